"""The shipped unit and configs agree with the code."""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

import pytest

from skimd.cli import main
from skimd.config import KEY_FILE_CREDENTIALS, PROJECT_ROOT, SECRETS

UNIT = PROJECT_ROOT / "systemd" / "skimd.service"


def unit_lines(key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in UNIT.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


def test_exec_start_is_the_real_entry_point() -> None:
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["skimd"] == "skimd.cli:main"
    (exec_start,) = unit_lines("ExecStart")
    binary, *args = exec_start.split()
    assert Path(binary).name == "skimd"
    assert args == ["run"]
    assert unit_lines("Type") == ["notify"]
    assert unit_lines("RestartPreventExitStatus") == ["78"]


def test_every_loaded_credential_is_one_the_config_reads() -> None:
    loaded = {v.split(":", 1)[0] for v in unit_lines("LoadCredentialEncrypted")}
    loaded |= {v.split(":", 1)[0] for v in unit_lines("LoadCredential")}
    # the web view's session secret is loaded by skimd-web.service (test_web_unit.py)
    known = {s.credential for s in SECRETS if s.section != "web"}
    assert loaded == known | set(KEY_FILE_CREDENTIALS.values())


def test_unit_parses_and_is_hardened() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text().replace("LoadCredentialEncrypted", "LCE"))
    service = parser["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["User"] == "skim"
    assert "/opt/skim/data" in service["ReadWritePaths"]


@pytest.mark.parametrize(
    "config", sorted((PROJECT_ROOT / "config").glob("*.toml")), ids=lambda p: p.name
)
def test_shipped_config_passes_config_check(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Production is checked as systemd would start it: every credential present."""
    creds = tmp_path / "creds"
    creds.mkdir()
    for spec in SECRETS:
        (creds / spec.credential).write_text("ab12cd34" if spec.key == "dh_prime" else "x-value")
    for credential in KEY_FILE_CREDENTIALS.values():
        (creds / credential).write_text("-----BEGIN PRIVATE KEY-----\n")
    if "production" in config.name:
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        copy = tmp_path / config.name
        shutil.copy(config, copy)
        text = copy.read_text().replace(
            'data_dir = "/opt/skim/data"', f'data_dir = "{tmp_path / "d"}"'
        )
        text = text.replace("/opt/skim/data/alerts.jsonl", str(tmp_path / "alerts.jsonl"))
        copy.write_text(text)
        config = copy
    else:
        monkeypatch.setenv("SKIMD__PATHS__DATA_DIR", str(tmp_path / "d"))
    assert main(["--config", str(config), "config", "check"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "config ok" in out
    assert "x-value" not in out
