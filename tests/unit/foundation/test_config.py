from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from skimd.cli import main
from skimd.config import SECRETS, Settings, load_settings
from skimd.errors import EX_CONFIG, ConfigurationError
from skimd.secret_groups import with_secrets
from tests.conftest import write_private


def database_secrets(cfg: Path, env: dict[str, str]) -> Settings:
    """Settings as the database sees them: its secrets read (bootstrap does this when the
    database is opened)."""
    return with_secrets(load_settings(cfg, env), "database")


def test_defaults_then_file_then_env_then_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    pw_file = write_private(tmp_path / "pw", "from-file")
    cfg.write_text(
        f'[logging]\nlevel = "WARNING"\n[supervisor]\nmisfire_grace_s = 45\n'
        f'[database]\npassphrase_file = "{pw_file}"\n'
    )
    env = {"SKIMD__SUPERVISOR__MISFIRE_GRACE_S": "60", "SKIMD_DB_PASSPHRASE": "from-env"}
    s = database_secrets(cfg, env)
    assert s.logging.level == "WARNING"  # file over default
    assert s.supervisor.misfire_grace_s == 60  # env over file
    assert s.supervisor.shutdown_timeout_s == 10.0  # default kept
    assert s.database.passphrase is not None
    assert s.database.passphrase.get_secret_value() == "from-file"  # *_file over env var

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "skimd-db-passphrase").write_text("from-credential\n")
    s2 = database_secrets(cfg, {**env, "CREDENTIALS_DIRECTORY": str(creds)})
    assert s2.database.passphrase is not None
    assert s2.database.passphrase.get_secret_value() == "from-credential"


def test_env_var_used_when_no_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    s = database_secrets(cfg, {"SKIMD_DB_PASSPHRASE": "pw-env"})
    assert s.database.passphrase is not None
    assert s.database.passphrase.get_secret_value() == "pw-env"


def test_config_path_precedence(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text('[logging]\nlevel = "ERROR"\n')
    b = tmp_path / "b.toml"
    b.write_text('[logging]\nlevel = "DEBUG"\n')
    env = {"SKIMD_CONFIG": str(a), "SKIMD_DB_PASSPHRASE": "x"}
    assert load_settings(None, env).logging.level == "ERROR"
    assert load_settings(b, env).logging.level == "DEBUG"


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    cfg = sub / "c.toml"
    cfg.write_text('[paths]\ndata_dir = "../mydata"\n')
    s = load_settings(cfg, {"SKIMD_DB_PASSPHRASE": "x"})
    assert s.paths.data_dir == (tmp_path / "mydata").resolve()


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("[nope]\nx = 1\n", {}, "unknown section [nope]"),
        ("[logging]\nlevle = 'INFO'\n", {}, "unknown key [logging] levle"),
        ("[supervisor]\nmisfire_grace_s = 'soon'\n", {}, "[supervisor] misfire_grace_s"),
        ("[market]\ntimezone = 'Mars/Olympus'\n", {}, "[market] timezone"),
        ("[market]\nopen_time = '25:00'\n", {}, "[market] open_time"),
        ("[broker]\nkind = 'demo'\n", {"SKIMD__BROKER__KIDN": "x"}, "SKIMD__BROKER__KIDN"),
        ("", {"SKIMD__SUPERVISOR__MISFIRE_GRACE_S": "-3"}, "SKIMD__SUPERVISOR__MISFIRE_GRACE_S"),
        (
            "[database]\npassphrase = 'inline'\n",
            {},
            "[database] passphrase: secrets are not allowed",
        ),
        ("[broker]\nkind = 'ibkr'\n", {}, "[ibkr] account_id: missing"),
        ("not toml = = =", {}, "not valid TOML"),
    ],
)
def test_every_error_names_the_key_and_exits_78(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    env: dict[str, str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    base_env = {"SKIMD_DB_PASSPHRASE": "pw"}
    base_env.update(env)
    with pytest.raises(ConfigurationError) as info:
        load_settings(cfg, base_env)
    assert expected in str(info.value)
    origin = next((k for k in env if k.startswith("SKIMD__")), str(cfg))
    assert origin in str(info.value)

    for key, value in base_env.items():
        monkeypatch.setenv(key, value)
    code = main(["--config", str(cfg), "config", "check"])
    err = capsys.readouterr().err
    assert code == EX_CONFIG
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", {})


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret-value")
    pw.chmod(0o644)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npassphrase_file = "{pw}"\n')
    load_settings(cfg, {})  # loading reads no secret: only the part that uses it does
    with pytest.raises(ConfigurationError, match="0644") as info:
        database_secrets(cfg, {})
    assert str(pw) in str(info.value)
    assert "s3cret-value" not in str(info.value)


def test_empty_and_missing_secret_files(tmp_path: Path) -> None:
    empty = write_private(tmp_path / "pw", "")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npassphrase_file = "{empty}"\n')
    with pytest.raises(ConfigurationError, match="empty"):
        database_secrets(cfg, {})
    cfg.write_text(f'[database]\npassphrase_file = "{tmp_path / "nope"}"\n')
    with pytest.raises(ConfigurationError, match="not found"):
        database_secrets(cfg, {})


def test_secrets_masked_in_repr_and_config_check(
    make_config,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
) -> None:
    cfg = make_config(passphrase="Tr0ub4dor&3-very-secret")
    hook = "https://discord.com/api/webhooks/123/abcDEFsecretTOKEN"
    monkeypatch.setenv("SKIMD__NOTIFICATIONS__DISCORD_WEBHOOK_URL", hook)
    settings = load_settings(cfg, dict(os.environ))
    assert "Tr0ub4dor" not in repr(settings)
    assert "abcDEFsecretTOKEN" not in repr(settings)
    assert sorted(settings.secret_values()) == sorted(["Tr0ub4dor&3-very-secret", hook])
    for args in (["config", "check"], ["config", "check", "--json"]):
        assert main(["--config", str(cfg), *args]) == 0
        out = capsys.readouterr().out
        assert "Tr0ub4dor" not in out and "abcDEFsecretTOKEN" not in out
        assert "**********" in out


def test_production_refuses_plaintext_and_demo_passphrase(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[broker]\nkind = 'ibkr'\n[database]\nencryption = 'off'\n")
    with pytest.raises(ConfigurationError, match="encryption"):
        load_settings(cfg, {})


def test_secret_registry_has_unique_credentials() -> None:
    names = [s.credential for s in SECRETS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b'[logging]\nlevel = "INFO" # caf\xe9\n'), "not UTF-8 text"),
        (lambda p: p.mkdir(), "is a directory, not a config file"),
    ],
    ids=["latin-1 bytes", "a directory"],
)
def test_unreadable_config_is_a_configuration_error_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], object],
    expected: str,
    clean_env: None,
) -> None:
    cfg = tmp_path / "skimd.toml"
    make(cfg)
    with pytest.raises(ConfigurationError, match=expected) as info:
        load_settings(cfg, {"SKIMD_DB_PASSPHRASE": "pw"})
    assert str(info.value).startswith(f"{cfg}: ")

    code = main(["--config", str(cfg), "config", "check"])
    err = capsys.readouterr().err
    assert code == EX_CONFIG
    assert err.strip().splitlines() == [f"skimd: {info.value}"]


def test_a_directory_given_as_a_secret_file_is_a_configuration_error(tmp_path: Path) -> None:
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npassphrase_file = "{folder}"\n')
    with pytest.raises(ConfigurationError, match="secret file is not readable") as info:
        database_secrets(cfg, {})
    assert str(info.value).startswith(f"{folder}: ")


def test_loading_fails_for_no_secret_that_is_absent_or_unusable(tmp_path: Path) -> None:
    """Secrets are read by the part that uses them: loading names none of them."""
    open_file = tmp_path / "consumer-key"
    open_file.write_text("ck-value")
    open_file.chmod(0o644)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[broker]\nkind = 'ibkr'\n[ibkr]\naccount_id = 'DU1'\n"
        f'consumer_key_file = "{open_file}"\n'
        f'access_token_file = "{tmp_path / "gone"}"\n'
    )
    settings = load_settings(cfg, {})
    assert settings.ibkr.consumer_key is None and settings.database.passphrase is None
    with pytest.raises(ConfigurationError, match="0644"):
        with_secrets(settings, "broker")
    with pytest.raises(ConfigurationError) as info:
        with_secrets(settings, "database")
    assert str(info.value) == (
        f"{cfg}: [database] passphrase is missing: provide the credential skimd-db-passphrase "
        '(a LoadCredentialEncrypted= line), passphrase_file = "<0600 file>" or '
        "$SKIMD_DB_PASSPHRASE"
    )
    assert with_secrets(settings, "notifications") == settings  # all optional, none set


def test_the_environment_that_locates_secrets_is_never_printed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    settings = load_settings(cfg, {"SKIMD_DB_PASSPHRASE": "pw-in-env-0123"})
    assert "pw-in-env-0123" not in repr(settings)
    assert "pw-in-env-0123" not in repr(settings.secret_environment)
    assert settings.secret_values() == ["pw-in-env-0123"]  # the redactor still knows it
