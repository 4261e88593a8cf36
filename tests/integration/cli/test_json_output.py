"""Every ``--json`` output is one JSON document on stdout and nothing else: each command
runs through skimd.cli.main on a real database holding a small journal, and its whole
stdout goes through a single ``json.loads``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skimd.infrastructure.database import open_trading_database
from tests.integration.cli.conftest import cli, settings_of
from tests.integration.journal.journal_rows import seed_journal

OFX = Path(__file__).resolve().parents[2] / "fixtures" / "bank" / "statement_v1.ofx"


def whole_json(capsys: pytest.CaptureFixture[str], *args: str, config: Path) -> Any:
    assert cli(config, *args) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout, not its last line


def test_every_json_flag_prints_json_alone(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_trading_database(settings_of(initialised), create=False)
    try:
        seeded = seed_journal(db)
    finally:
        db.close()

    def run(*args: str) -> Any:
        return whole_json(capsys, *args, "--json", config=initialised)

    assert len(run("journal", "trades")) == seeded.trades
    assert len(run("journal", "round-trips")) == 4
    stats = run("journal", "stats", "--by", "week", "--chart", str(tmp_path / "eq.png"))
    assert stats["total"]["round_trips"] == 3 and stats["chart"] == str(tmp_path / "eq.png")
    assert (tmp_path / "eq.png").read_bytes().startswith(b"\x89PNG")
    report = run("journal", "report", "2024-07-03", "--out", str(tmp_path / "reports"))
    assert report["day"] == "2024-07-03" and report["files"][0].endswith("report.md")
    assert report["new_reports"] == 2
    imported = run("journal", "import-bank", str(OFX), "--bank", "ofx")
    assert (imported["imported"], imported["skipped"], imported["account"]) == (3, 1, "ofx")
    assert run("journal", "bank-config", "list") == []

    verified = run("db", "verify")
    assert verified["ok"] is True and "integrity_check" in verified["checks"]
    backup = run("db", "backup", str(tmp_path / "backups"))
    assert Path(backup["backup"]).parent == tmp_path / "backups" and backup["verified"]
    assert "tables" in run("db", "tables")

    locked = run("guard", "lock", "--reason", "test")
    assert locked["locked"] is True and locked["changed"] is True
    assert locked["via"] == "database"  # no daemon answers on the control socket
    assert run("guard", "lock")["changed"] is False
    assert run("guard", "status")["locked"] is True
    unlocked = run("guard", "unlock")
    assert unlocked["locked"] is False and unlocked["changed"] is True
    assert "guard" in run("status")
