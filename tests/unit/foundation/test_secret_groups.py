"""Secrets read per part (skimd.secret_groups): the resolution order kept, key files from
credentials, nothing asked of a part that needs no secret, config check's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from skimd.config import Settings, load_settings
from skimd.errors import ConfigurationError
from skimd.secret_groups import secret_report, with_secrets
from tests.conftest import write_private

IBKR = "[broker]\nkind = 'ibkr'\n[ibkr]\naccount_id = 'DU1'\n"


def credentials_dir(tmp_path: Path, values: dict[str, str]) -> Path:
    folder = tmp_path / "creds"
    folder.mkdir()
    for name, value in values.items():
        (folder / name).write_text(value)
        (folder / name).chmod(0o400)
    return folder


def test_a_credential_wins_over_a_file_which_is_used_without_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        IBKR + f'consumer_key_file = "{write_private(tmp_path / "ck", "from-file")}"\n'
    )
    creds = credentials_dir(tmp_path, {"skimd-ibkr-consumer-key": "from-credential"})
    pem = write_private(tmp_path / "configured.pem", "configured")
    cfg.write_text(cfg.read_text() + f'signature_key_file = "{pem}"\n')

    def broker_view(env: dict[str, str]) -> Settings | str:
        settings = load_settings(cfg, env)
        try:
            return with_secrets(settings, "broker")
        except ConfigurationError as exc:  # the other IBKR secrets are not given here
            return str(exc)

    assert "access_token is missing" in broker_view({})
    full = {
        name: "x"
        for name in (
            "skimd-ibkr-access-token",
            "skimd-ibkr-access-token-secret",
            "skimd-ibkr-dh-prime",
            "skimd-ibkr-encryption-key",
        )
    }
    for name, value in full.items():
        (creds / name).write_text(value)
    seen = broker_view({"CREDENTIALS_DIRECTORY": str(creds)})
    assert not isinstance(seen, str), seen
    assert seen.ibkr.consumer_key is not None
    assert seen.ibkr.consumer_key.get_secret_value() == "from-credential"
    assert seen.ibkr.signature_key_file == pem  # no credential for it: the configured path
    assert seen.ibkr.encryption_key_file == creds / "skimd-ibkr-encryption-key"

    (creds / "skimd-ibkr-consumer-key").unlink()
    seen = broker_view({"CREDENTIALS_DIRECTORY": str(creds)})
    assert not isinstance(seen, str), seen
    assert seen.ibkr.consumer_key is not None
    assert seen.ibkr.consumer_key.get_secret_value() == "from-file"


def test_the_demo_broker_and_an_unencrypted_database_need_no_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[database]\nencryption = 'off'\n")
    settings = load_settings(cfg, {})
    for group in ("database", "broker", "notifications"):
        assert with_secrets(settings, group) == settings  # type: ignore[arg-type]


def test_a_missing_key_file_names_its_credential_and_file_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(IBKR)
    creds = credentials_dir(
        tmp_path,
        {
            "skimd-ibkr-consumer-key": "a",
            "skimd-ibkr-access-token": "b",
            "skimd-ibkr-access-token-secret": "c",
            "skimd-ibkr-dh-prime": "d",
            "skimd-ibkr-encryption-key": "pem",
        },
    )
    settings = load_settings(cfg, {"CREDENTIALS_DIRECTORY": str(creds)})
    with pytest.raises(ConfigurationError) as info:
        with_secrets(settings, "broker")
    assert str(info.value) == (
        f"{cfg}: [ibkr] signature_key_file is missing: provide the credential "
        "skimd-ibkr-signature-key (a LoadCredentialEncrypted= line) or "
        'signature_key_file = "<0600 PEM file>"'
    )


def test_the_report_flags_an_open_key_file_and_an_open_optional_secret(tmp_path: Path) -> None:
    pem = tmp_path / "sig.pem"
    pem.write_text("pem")
    pem.chmod(0o644)
    hook = tmp_path / "hook"
    hook.write_text("https://discord.com/api/webhooks/1/AbC-secret")
    hook.chmod(0o640)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        IBKR + f'signature_key_file = "{pem}"\n'
        f'[notifications]\ndiscord_webhook_url_file = "{hook}"\n'
    )
    report = {s.setting: s for s in secret_report(load_settings(cfg, {}))}
    assert report["[ibkr] signature_key_file"].problem == (
        f"{pem}: secret file mode is 0644; it must be 0600 or 0400"
    )
    webhook = report["[notifications] discord_webhook_url"]
    assert webhook.required is False
    assert webhook.source == f"discord_webhook_url_file = {str(hook)!r}"
    assert webhook.problem == f"{hook}: secret file mode is 0640; it must be 0600 or 0400"
    assert "AbC-secret" not in repr(report)
