"""Typed, frozen Settings.

Sources, later wins:

1. built-in defaults (the models below),
2. the TOML file: ``--config PATH``, else ``$SKIMD_CONFIG``, else ``config/skimd.toml``,
3. environment variables ``SKIMD__SECTION__KEY`` (e.g. ``SKIMD__LOGGING__LEVEL=DEBUG``),
4. secrets: ``$CREDENTIALS_DIRECTORY/<credential>`` (systemd ``LoadCredential*=``), then the
   ``<key>_file`` path given in config, then the secret's environment variable.

Secrets are *located* here but not read: loading never fails because a secret is absent or
its file unusable, so a command that does not use a secret (``status`` beside an IBKR
daemon whose credentials only the unit can decrypt) does not need it. They are read, and
refused when required and missing, when the part that uses them is built
(:func:`skimd.secret_groups.with_secrets`, called by :mod:`skimd.bootstrap`). Settings carry
the environment they were loaded with for that (:class:`SecretEnvironment`, never printed).

Every problem becomes one :class:`~skimd.errors.ConfigurationError` line naming the key and
the file (or variable) at fault. Secret values are :class:`pydantic.SecretStr`: they print as
``**********`` in ``repr``, logs and ``config check``.

Relative paths inside a config file are resolved against that file's directory, so the
same file works whatever the working directory is.

Only :mod:`skimd.bootstrap` and the CLI call :func:`load_settings`; nothing else reads the
environment.

Longer than 500 lines because it is the one description of every setting and of where each
secret comes from, in the order the README documents: split, a ``<key>_file`` setting would
live apart from the resolution order and the 0600 rule that read it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from skimd.errors import ConfigurationError, SecretFileError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "skimd.toml"
ENV_PREFIX = "SKIMD__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MarketSettings(_Section):
    timezone: str = "Australia/Sydney"
    calendar: Literal["XASX"] = "XASX"
    open_time: str = "10:00"
    close_time: str = "16:00"
    early_close_time: str = "14:10"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("open_time", "close_time", "early_close_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        parse_hhmm(value)
        return value


class PathSettings(_Section):
    data_dir: Path | None = None
    log_dir: Path | None = None
    runtime_dir: Path | None = None  # the control socket's dir (systemd RuntimeDirectory=)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class SupervisorSettings(_Section):
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=300)
    misfire_grace_s: int = Field(default=30, ge=1, le=3600)
    status_interval_s: float = Field(default=30.0, gt=0)
    run_for_s: float | None = Field(default=None, gt=0)
    # Alert severity (issue 16): when the daemon's own trouble becomes CRITICAL.
    # A job's failure is a warning until it has failed this many times in a row.
    job_failures_critical_after: int = Field(default=3, ge=1, le=1000)
    # A lost broker session is a warning; still down this many minutes later, one critical.
    broker_down_critical_after_min: float = Field(default=10.0, gt=0, le=1440)


class DatabaseSettings(_Section):
    encryption: Literal["sqlcipher", "off"] = "sqlcipher"
    filename: str = "skimd.db"
    passphrase: SecretStr | None = None
    passphrase_file: Path | None = None
    create_passphrase: bool = False
    busy_timeout_ms: int = Field(default=5000, ge=0)
    backup_dir: Path | None = None
    backup_keep: int = Field(default=7, ge=1)
    kdf_time_cost: int = Field(default=3, ge=1)
    kdf_memory_kib: int = Field(default=65536, ge=8192)
    kdf_parallelism: int = Field(default=4, ge=1)


class BrokerSettings(_Section):
    kind: str = "demo"
    live_trading: bool = False
    # React on pushed quotes (IBKR's websocket, the demo market's ticks) when the broker
    # can push them; the 5 s poll stays as the fallback. False: poll only.
    stream_quotes: bool = True


class IbkrSettings(_Section):
    base_url: str = "https://api.ibkr.com/v1/api"
    realm: str = "limited_poa"
    account_id: str | None = None
    consumer_key: SecretStr | None = None
    consumer_key_file: Path | None = None
    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    access_token_secret: SecretStr | None = None
    access_token_secret_file: Path | None = None
    signature_key_file: Path | None = None
    encryption_key_file: Path | None = None
    dh_prime: SecretStr | None = None
    dh_prime_file: Path | None = None
    tickle_interval_s: float = Field(default=60.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    # Confirmation questions (IBKR ``messageIds``) answered "yes" when placing an order; any
    # other question rejects the order. o163: limit price far from the market.
    confirm_question_ids: tuple[str, ...] = ("o163",)
    lst_refresh_margin_s: float = Field(default=600.0, ge=0)
    max_get_attempts: int = Field(default=3, ge=1, le=10)
    compete_backoff_s: float = Field(default=60.0, gt=0)
    compete: bool = True  # ssodh/init takes the brokerage session from another login
    snapshot_poll_attempts: int = Field(default=5, ge=1, le=50)
    snapshot_poll_interval_s: float = Field(default=0.5, ge=0)
    conid_cache_days: int = Field(default=7, ge=1)
    scanner_instrument: str = "STOCK.HK"
    scanner_location: str = "STK.HK.ASX"
    scanner_type: str = "HIGH_OPEN_GAP"


class StrategySettings(_Section):
    """The opening-gap strategy (see skimd.services.trading). Times are Sydney wall time."""

    warmup_at: str = "09:45"
    purge_at: str = "09:55"
    news_from: str = "07:30"
    scan_until: str = "10:15"
    end_of_day_at: str = "16:15"
    poll_interval_s: int = Field(default=5, ge=1, le=60)
    scan_interval_s: int = Field(default=15, ge=1, le=60)
    news_interval_s: int = Field(default=300, ge=60, le=3600)
    sync_interval_s: int = Field(default=300, ge=60, le=3600)
    news_url: str = "https://www.asx.com.au/asx/v2/statistics/todayAnns.do"
    min_gap_pct: Decimal = Field(default=Decimal("4"), gt=0)
    min_price: Decimal = Field(default=Decimal("0.20"), gt=0)
    min_volume: int = Field(default=20_000, ge=0)
    universe: tuple[str, ...] = ()
    require_news: bool = True
    range_minutes: int = Field(default=15, ge=1, le=120)
    breakout_buffer_ticks: int = Field(default=1, ge=0, le=50)
    entry_slippage_ticks: int = Field(default=2, ge=0, le=50)
    entry_timeout_s: int = Field(default=60, ge=5)
    risk_per_trade: Decimal = Field(default=Decimal("500"), gt=0)
    max_position_value: Decimal = Field(default=Decimal("20000"), gt=0)
    max_open_positions: int = Field(default=3, ge=1)
    max_orders_per_day: int = Field(default=20, ge=1)
    daily_loss_cap: Decimal = Field(default=Decimal("1500"), gt=0)
    price_band_pct: Decimal = Field(default=Decimal("3"), gt=0, le=50)
    closing_auction_minutes: int = Field(default=10, ge=0, le=60)
    resting_stop: bool = True
    partial_exit_day: int = Field(default=3, ge=1, le=60)
    trail_ma_days: int = Field(default=10, ge=2, le=200)
    flatten_at_close: bool = False
    flatten_minutes_before_close: int = Field(default=15, ge=11, le=120)
    candidate_max_age_days: int = Field(default=30, ge=1)
    # what the journal calls a mistake
    mistake_stop_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    mistake_risk_tolerance: Decimal = Field(default=Decimal("0"), ge=0)
    mistake_chase_pct: Decimal = Field(default=Decimal("2"), ge=0)

    @field_validator("warmup_at", "purge_at", "news_from", "scan_until", "end_of_day_at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("universe")
    @classmethod
    def _tickers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(t.strip().upper() for t in value)
        for ticker in cleaned:
            if not ticker.isalnum() or not 1 <= len(ticker) <= 6:
                raise ValueError(f"ticker {ticker!r} is not an ASX code")
        return cleaned


class DemoSettings(_Section):
    seed: int = 7
    universe_size: int = Field(default=300, ge=10, le=5000)
    starting_cash: float = Field(default=100_000.0, gt=0)
    commission_per_order: float = Field(default=6.0, ge=0)


class AlertKindSettings(_Section):
    """One alert kind on the phone channels (:mod:`skimd.domain.alert_policy`): ``mode``
    on / quiet (digest only) / off, ``route`` main / critical (unset: by severity). In TOML
    either a table (``{ mode = "quiet", route = "main" }``) or just the mode (``"quiet"``)."""

    mode: Literal["on", "quiet", "off"] = "on"
    route: Literal["main", "critical"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _mode_alone(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value


def _known_alert_kind(kind: str) -> str:
    from skimd.domain.alert_policy import SENDER_BUILT, configurable_kinds

    if kind in SENDER_BUILT:
        raise ValueError(f"{kind!r} is made by the alert sender: configure what it lists")
    if kind not in configurable_kinds():
        raise ValueError(f"unknown alert kind {kind!r}")
    return kind


class NotificationSettings(_Section):
    """Where alerts go and how the outbox sender paces them (see skimd.services.alerts)."""

    console: bool = True
    jsonl_file: Path | None = None
    discord_webhook_url: SecretStr | None = None
    discord_webhook_url_file: Path | None = None
    discord_critical_webhook_url: SecretStr | None = None
    discord_critical_webhook_url_file: Path | None = None
    heartbeat_url: SecretStr | None = None
    heartbeat_url_file: Path | None = None
    heartbeat_interval_min: float = Field(default=5.0, gt=0)
    heartbeat_timeout_s: float = Field(default=10.0, gt=0)
    discord_username: str = "skimd"
    discord_min_severity: Literal["info", "warning", "critical"] = "info"
    discord_charts: bool = True
    discord_timeout_s: float = Field(default=10.0, gt=0, le=120)
    discord_max_inline_wait_s: float = Field(default=5.0, ge=0, le=60)
    outbox_poll_interval_s: int = Field(default=30, ge=1, le=60)  # catch-up; commits wake it
    outbox_coalesce_threshold: int = Field(default=5, ge=2)
    outbox_backoff_initial_s: float = Field(default=2.0, gt=0)
    outbox_backoff_max_s: float = Field(default=60.0, gt=0, le=3600)
    # -- per-kind control of the phone channels (skimd.domain.alert_policy) --
    kinds: dict[Annotated[str, AfterValidator(_known_alert_kind)], AlertKindSettings] = Field(
        default_factory=dict
    )
    quiet_digest_interval_min: float = Field(default=120.0, gt=0, le=24 * 60)


class WebSettings(_Section):
    """``skimd web`` (:mod:`skimd.web`): where it listens and how it guards the desk.

    A non-loopback ``host`` is refused unless both TLS files are set (checked when the
    server is built, so other commands are not held up by it). ``session_secret`` signs the
    session cookie; without one a random key is made at start (sessions end on restart).
    The login password is an Argon2id hash in ``password_file`` (default
    ``<data_dir>/web-password``, 0600), written by ``skimd web set-password``."""

    host: str = "127.0.0.1"
    port: int = Field(default=8750, ge=1, le=65535)
    read_only: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    password_file: Path | None = None
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    session_max_age_min: int = Field(default=12 * 60, ge=5, le=30 * 24 * 60)


class Settings(_Section):
    """The whole configuration. ``source`` is the file it came from (for error messages)."""

    source: str = "<defaults>"
    market: MarketSettings = MarketSettings()
    paths: PathSettings = PathSettings()
    logging: LoggingSettings = LoggingSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    ibkr: IbkrSettings = IbkrSettings()
    strategy: StrategySettings = StrategySettings()
    demo: DemoSettings = DemoSettings()
    notifications: NotificationSettings = NotificationSettings()
    web: WebSettings = WebSettings()
    _secret_env: SecretEnvironment = PrivateAttr(default_factory=lambda: SecretEnvironment())

    @property
    def secret_environment(self) -> SecretEnvironment:
        """Where this process finds secrets (captured by :func:`load_settings`)."""
        return self._secret_env

    def secret_values(self) -> list[str]:
        """Every secret value these settings can reach, for the log redactor: the values
        already held, and each secret's source read best effort (a source that cannot be
        read is skipped here; the part that needs it reports it)."""
        found: list[str] = []
        for section in self.model_dump(exclude={"source"}).values():
            found.extend(
                v.get_secret_value()
                for v in section.values()
                if isinstance(v, SecretStr) and v.get_secret_value()
            )
        for spec in SECRETS:
            try:
                value = read_secret(self, spec)
            except (ConfigurationError, OSError):
                continue
            if value is not None:
                found.append(value.get_secret_value())
        return list(dict.fromkeys(found))


@dataclass(frozen=True, repr=False)
class SecretEnvironment:
    """What of the process environment locates secrets: systemd's credentials directory
    and the secrets' own variables (``$SKIMD_DB_PASSPHRASE``). Never printed."""

    credentials_dir: Path | None = None
    variables: Mapping[str, SecretStr] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SecretEnvironment(credentials_dir={self.credentials_dir!r})"


@dataclass(frozen=True)
class SecretSpec:
    """Where one secret may come from."""

    section: str
    key: str
    credential: str
    env: str | None = None


# The single registry of secrets. systemd/skimd.service loads exactly these credentials but
# the web's, which systemd/skimd-web.service loads with the database's (tests check both).
SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("database", "passphrase", "skimd-db-passphrase", "SKIMD_DB_PASSPHRASE"),
    SecretSpec("ibkr", "consumer_key", "skimd-ibkr-consumer-key"),
    SecretSpec("ibkr", "access_token", "skimd-ibkr-access-token"),
    SecretSpec("ibkr", "access_token_secret", "skimd-ibkr-access-token-secret"),
    SecretSpec("ibkr", "dh_prime", "skimd-ibkr-dh-prime"),
    SecretSpec("notifications", "discord_webhook_url", "skimd-discord-webhook"),
    SecretSpec("notifications", "discord_critical_webhook_url", "skimd-discord-critical-webhook"),
    SecretSpec("notifications", "heartbeat_url", "skimd-heartbeat-url"),
    SecretSpec("web", "session_secret", "skimd-web-session-secret", "SKIMD_WEB_SESSION_SECRET"),
)

# Key files are passed to their consumers as paths (the RSA PEMs are parsed by the IBKR
# adapter); when systemd provides them as credentials, these names are used instead.
KEY_FILE_CREDENTIALS: dict[tuple[str, str], str] = {
    ("ibkr", "signature_key_file"): "skimd-ibkr-signature-key",
    ("ibkr", "encryption_key_file"): "skimd-ibkr-encryption-key",
}


@dataclass(frozen=True)
class SecretSource:
    """Where one secret would be read from; ``where`` names it (a path or a variable),
    never the value."""

    kind: Literal["credential", "file", "environment", "value"]
    where: str
    path: Path | None = None


def locate_secret(settings: Settings, spec: SecretSpec) -> SecretSource | None:
    """The first source of ``spec`` that is configured or present, reading nothing: the
    systemd credential, else ``<key>_file``, else the secret's variable, else a value set
    directly (``SKIMD__SECTION__KEY``, or Settings built in code). None when there is none,
    or when the demo's passphrase file is still to be created (bootstrap makes it)."""
    env = settings.secret_environment
    section = getattr(settings, spec.section)
    if env.credentials_dir is not None:
        candidate = env.credentials_dir / spec.credential
        if candidate.is_file():
            return SecretSource("credential", f"credential {spec.credential}", candidate)
    file_value: Path | None = getattr(section, f"{spec.key}_file")
    if file_value is not None:
        if _create_later(settings, spec, file_value):
            return None
        return SecretSource("file", f"{spec.key}_file = {str(file_value)!r}", file_value)
    if spec.env and spec.env in env.variables:
        return SecretSource("environment", f"${spec.env}")
    if getattr(section, spec.key) is not None:
        overlay = f"{ENV_PREFIX}{spec.section}__{spec.key}".upper()
        return SecretSource("value", f"${overlay} (or a value set in code)")
    return None


def read_secret(settings: Settings, spec: SecretSpec) -> SecretStr | None:
    """The value of ``spec`` from :func:`locate_secret`'s source, or None when there is
    none. A file named in config must be 0600/0400; an unusable file is a SecretFileError
    naming the file, never its content."""
    source = locate_secret(settings, spec)
    if source is None:
        return None
    if source.kind == "environment":
        return settings.secret_environment.variables[spec.env or ""]
    if source.kind == "value":
        value: SecretStr | None = getattr(getattr(settings, spec.section), spec.key)
        return value
    assert source.path is not None  # credential and file sources carry their path
    return SecretStr(_read_secret_file(source.path, strict=source.kind == "file"))


def locate_key_file(settings: Settings, section: str, key: str) -> Path | None:
    """A key file's path: the systemd credential when present, else the configured path."""
    credentials_dir = settings.secret_environment.credentials_dir
    credential = KEY_FILE_CREDENTIALS[(section, key)]
    if credentials_dir is not None and (credentials_dir / credential).is_file():
        return credentials_dir / credential
    path: Path | None = getattr(getattr(settings, section), key)
    return path


def parse_hhmm(value: str) -> tuple[int, int]:
    """``"09:45"`` → ``(9, 45)``; raises ValueError naming the value."""
    try:
        hh, mm = value.split(":")
        hour, minute = int(hh), int(mm)
    except ValueError:
        raise ValueError(f"expected HH:MM, got {value!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"expected HH:MM, got {value!r}")
    return hour, minute


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path:
    if cli_path:
        return Path(cli_path)
    if environ.get("SKIMD_CONFIG"):
        return Path(environ["SKIMD_CONFIG"])
    return DEFAULT_CONFIG


def load_settings(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from every source; raise ConfigurationError naming what is wrong."""
    env = dict(os.environ if environ is None else environ)
    path = resolve_config_path(str(config_path) if config_path else None, env)
    raw = _read_toml(path)
    _refuse_inline_secrets(raw, path)
    base_dir = path.resolve().parent
    _resolve_relative_paths(raw, base_dir)
    _overlay_environment(raw, env)
    raw["source"] = str(path)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(_describe_validation_error(exc, path, env)) from None
    _check_cross_field_rules(settings, path)
    settings._secret_env = _secret_environment(env)
    return settings


def _secret_environment(env: Mapping[str, str]) -> SecretEnvironment:
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    variables = {s.env: SecretStr(env[s.env]) for s in SECRETS if s.env and env.get(s.env)}
    return SecretEnvironment(Path(cred_dir) if cred_dir else None, variables)


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's tables; a file that cannot be read is a ConfigurationError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: config file is not readable ({exc.strerror})") from None
    try:  # TOML is UTF-8 by definition: other bytes are the file's fault too
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
    for name, value in data.items():
        if name not in Settings.model_fields or name == "source":
            raise ConfigurationError(f"{path}: unknown section [{name}]")
        if not isinstance(value, dict):
            raise ConfigurationError(f"{path}: [{name}] must be a table")
    return data


def _resolve_relative_paths(raw: dict[str, Any], base_dir: Path) -> None:
    for section_name, section in raw.items():
        model = Settings.model_fields[section_name].annotation
        fields = getattr(model, "model_fields", {})
        for key, value in section.items():
            info = fields.get(key)
            if info is None or not isinstance(value, str) or not value:
                continue
            if "Path" in str(info.annotation) and not Path(value).is_absolute():
                section[key] = str((base_dir / value).resolve())


def _overlay_environment(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigurationError(f"{name}: expected SKIMD__SECTION__KEY")
        section, key = parts
        if section not in Settings.model_fields or section == "source":
            raise ConfigurationError(f"{name}: unknown section [{section}]")
        model = Settings.model_fields[section].annotation
        if key not in getattr(model, "model_fields", {}):
            raise ConfigurationError(f"{name}: unknown key [{section}] {key}")
        raw.setdefault(section, {})[key] = value


def _refuse_inline_secrets(raw: dict[str, Any], path: Path) -> None:
    for spec in SECRETS:
        if spec.key in raw.get(spec.section, {}):
            alternatives = f"{spec.key}_file, the credential {spec.credential!r}"
            if spec.env:
                alternatives += f" or ${spec.env}"
            raise ConfigurationError(
                f"{path}: [{spec.section}] {spec.key}: secrets are not allowed in a config "
                f"file; use {alternatives}"
            )


def _create_later(settings: Settings, spec: SecretSpec, file: Path) -> bool:
    """The demo's passphrase file may not exist yet: bootstrap creates it at 0600."""
    return (
        spec.key == "passphrase" and settings.database.create_passphrase and not file.exists()
    )


def _read_secret_file(path: Path, *, strict: bool) -> str:
    """Read a one-value secret file. Config-named files must not be group/other readable."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretFileError(f"{path}: secret file not found") from None
    except PermissionError:
        raise SecretFileError(f"{path}: secret file is not readable") from None
    if strict:
        check_private_file(path, info.st_mode)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"{path}: secret file is not readable UTF-8 text") from exc
    if not value:
        raise SecretFileError(f"{path}: secret file is empty")
    return value


def check_private_file(path: Path, mode: int | None = None) -> None:
    """Refuse a secret file that group or others can read or write (want 0600 or 0400)."""
    mode = path.stat().st_mode if mode is None else mode
    if stat.S_IMODE(mode) & 0o077:
        raise SecretFileError(
            f"{path}: secret file mode is {stat.S_IMODE(mode):04o}; it must be 0600 or 0400"
        )


def _describe_validation_error(exc: ValidationError, path: Path, env: Mapping[str, str]) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if p != "[key]"]  # a bad table key: name the key
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0]
    env_name = f"{ENV_PREFIX}{'__'.join(loc[:2]).upper()}" if len(loc) >= 2 else ""
    origin = env_name if env_name in env else str(path)
    if err["type"] == "extra_forbidden":
        return f"{origin}: unknown key {where}"
    message = err["msg"].removeprefix("Value error, ")
    if "SecretStr" in str(err.get("ctx", "")) or any(s.key == loc[-1] for s in SECRETS):
        return f"{origin}: {where}: {message}"
    return f"{origin}: {where}: {message} (got {err.get('input')!r})"


def _check_cross_field_rules(settings: Settings, path: Path) -> None:
    """Rules between settings that are not secrets (those are checked when used)."""
    db = settings.database
    if settings.broker.kind == "ibkr":
        if db.encryption == "off":
            raise ConfigurationError(
                f"{path}: [database] encryption: 'off' is refused with the ibkr broker"
            )
        if db.create_passphrase:
            raise ConfigurationError(
                f"{path}: [database] create_passphrase: demo-only; refused with the ibkr broker"
            )
        if settings.ibkr.account_id is None:
            raise ConfigurationError(
                f"{path}: [ibkr] account_id: missing (required when [broker] kind = 'ibkr')"
            )
