"""Which secrets each part of skimd needs, read when that part is built.

:func:`skimd.config.load_settings` only notes where secrets would come from. The parts
that use them ask here, through :mod:`skimd.bootstrap`, as they are built:

- ``database``: ``[database] passphrase``, required unless ``encryption = "off"`` or the
  demo's ``create_passphrase``; needed by anything that opens the database (``status``,
  ``guard``, ``journal``, ``db``, ``scan``, ``run``);
- ``broker``: with ``[broker] kind = "ibkr"`` the four OAuth values and the two PEM key
  files, all required; nothing for the demo broker (``broker check``, ``scan``, ``run``);
- ``notifications``: the Discord webhooks and the heartbeat URL, all optional; each one
  that has a source must be readable (``scan`` and ``run``, which send alerts);
- ``web``: ``[web] session_secret``, optional (``skimd web`` makes a random one without it).

A required secret without a source is one :class:`~skimd.errors.ConfigurationError` line
(exit 78) naming the setting, its systemd credential and its ``<key>_file`` key. An
unusable source (a file open to group/other, empty, missing) is the SecretFileError the
file names. ``config check`` lists every secret's state (:func:`secret_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from skimd.config import (
    KEY_FILE_CREDENTIALS,
    SECRETS,
    SecretSpec,
    Settings,
    check_private_file,
    locate_key_file,
    locate_secret,
    read_secret,
)
from skimd.errors import ConfigurationError

SecretGroup = Literal["database", "broker", "notifications", "web"]
GROUPS: tuple[SecretGroup, ...] = ("database", "broker", "notifications", "web")
_SECTION_GROUP: dict[str, SecretGroup] = {
    "database": "database",
    "ibkr": "broker",
    "notifications": "notifications",
    "web": "web",
}


@dataclass(frozen=True)
class SecretStatus:
    """One secret as ``config check`` shows it. ``source`` names where it comes from (never
    its value); ``problem`` is the line the part using it would fail with, if any."""

    setting: str  # "[ibkr] consumer_key"
    credential: str
    group: SecretGroup
    required: bool
    source: str | None
    problem: str | None


def uses_ibkr(settings: Settings) -> bool:
    return settings.broker.kind.strip().lower() == "ibkr"


def is_required(settings: Settings, section: str, key: str) -> bool:
    """Whether this configuration cannot work without the secret."""
    if section == "database":
        db = settings.database
        return db.encryption == "sqlcipher" and not db.create_passphrase
    if section == "ibkr":
        return uses_ibkr(settings)
    return False


def is_configured(settings: Settings, spec: SecretSpec) -> bool:
    """Whether ``spec`` has a source (nothing is read): e.g. a heartbeat URL that makes the
    daemon plan a heartbeat job."""
    return locate_secret(settings, spec) is not None


def spec_for(section: str, key: str) -> SecretSpec:
    return next(s for s in SECRETS if (s.section, s.key) == (section, key))


def missing_message(settings: Settings, section: str, key: str) -> str:
    """The one line for a required secret with no source: the setting, its systemd
    credential, its ``<key>_file`` key (and its variable, if it has one). No ``word=value``
    shape in it: the CLI's scrubber would mask the value."""
    if (section, key) in KEY_FILE_CREDENTIALS:
        credential, file_key, what = KEY_FILE_CREDENTIALS[(section, key)], key, "0600 PEM file"
        variable = None
    else:
        spec = spec_for(section, key)
        credential, file_key, what, variable = spec.credential, f"{key}_file", "0600 file", spec.env
    ways = f"the credential {credential} (a LoadCredentialEncrypted= line)"
    file_way = f'{file_key} = "<{what}>"'
    ways += f", {file_way} or ${variable}" if variable else f" or {file_way}"
    return f"{settings.source}: [{section}] {key} is missing: provide {ways}"


def with_secrets(settings: Settings, group: SecretGroup) -> Settings:
    """``settings`` with ``group``'s secrets read from their sources (key files pointed at
    their credentials when systemd provides them). Raises ConfigurationError for the first
    required secret without a source, SecretFileError for an unusable source."""
    updates: dict[str, dict[str, object]] = {}
    for spec in SECRETS:
        if _SECTION_GROUP[spec.section] != group:
            continue
        if spec.section == "ibkr" and not uses_ibkr(settings):
            continue
        value = read_secret(settings, spec)
        if value is None and is_required(settings, spec.section, spec.key):
            raise ConfigurationError(missing_message(settings, spec.section, spec.key))
        updates.setdefault(spec.section, {})[spec.key] = value
    if group == "broker" and uses_ibkr(settings):
        for section, key in KEY_FILE_CREDENTIALS:
            updates.setdefault(section, {})[key] = _key_file(settings, section, key)
    if not updates:
        return settings
    return settings.model_copy(
        update={
            name: getattr(settings, name).model_copy(update=values)
            for name, values in updates.items()
        }
    )


def held_secrets(settings: Settings, group: SecretGroup) -> list[str]:
    """The secret values ``group`` holds in ``settings`` (for a log redactor)."""
    found = []
    for spec in SECRETS:
        if _SECTION_GROUP[spec.section] == group:
            value: SecretStr | None = getattr(getattr(settings, spec.section), spec.key)
            if value is not None and value.get_secret_value():
                found.append(value.get_secret_value())
    return found


def secret_report(settings: Settings) -> list[SecretStatus]:
    """Every secret's state for ``config check``: its source, whether this configuration
    requires it, and the problem the part using it would stop with. Reads each source (to
    find unusable files) and never raises."""
    report = []
    for spec in SECRETS:
        if spec.section == "ibkr" and not uses_ibkr(settings):
            continue
        located = locate_secret(settings, spec)
        source = None if located is None else located.where
        if source is None and spec.section == "database" and settings.database.create_passphrase:
            source = "skimd's own file (create_passphrase)"
        required = is_required(settings, spec.section, spec.key)
        problem = None
        try:
            value = read_secret(settings, spec)
        except ConfigurationError as exc:
            problem = str(exc)
        else:
            if value is None and required:
                problem = missing_message(settings, spec.section, spec.key)
        report.append(
            SecretStatus(
                f"[{spec.section}] {spec.key}",
                spec.credential,
                _SECTION_GROUP[spec.section],
                required,
                source,
                problem,
            )
        )
    if uses_ibkr(settings):
        for (section, key), credential in KEY_FILE_CREDENTIALS.items():
            path = locate_key_file(settings, section, key)
            problem = None
            where = None if path is None else _key_file_source(settings, path, credential, key)
            try:
                found = _key_file(settings, section, key)
                if not where or not where.startswith("credential"):  # files in config: 0600
                    check_private_file(found)
            except (ConfigurationError, OSError) as exc:
                problem = str(exc)
            report.append(
                SecretStatus(f"[{section}] {key}", credential, "broker", True, where, problem)
            )
    return sorted(report, key=lambda status: GROUPS.index(status.group))  # stable


def _key_file(settings: Settings, section: str, key: str) -> Path:
    path = locate_key_file(settings, section, key)
    if path is None:
        raise ConfigurationError(missing_message(settings, section, key))
    if not path.is_file():
        raise ConfigurationError(f"{settings.source}: [{section}] {key}: {path} not found")
    return path


def _key_file_source(settings: Settings, path: Path, credential: str, key: str) -> str:
    if settings.secret_environment.credentials_dir == path.parent and path.name == credential:
        return f"credential {credential}"
    return f"{key} = {str(path)!r}"
