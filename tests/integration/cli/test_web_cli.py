"""``skimd web set-password`` and ``skimd web`` over real files: the password reaches the
login of the app bootstrap builds over a migrated database, the desk's lock without a
daemon shows in ``skimd status --json``, and what ``skimd web`` refuses to start with."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from skimd import bootstrap
from tests.integration.cli.conftest import cli
from tests.integration.web.fakes import Browser

PASSWORD = "a long web password"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def set_password(config: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))
    return cli(config, "web", "set-password")


def test_set_password_stores_a_private_hash_in_the_data_dir(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set_password(config, monkeypatch, PASSWORD) == 0
    stored = config.parent / "data" / "web-password"
    assert str(stored) in capsys.readouterr().out
    assert stored.stat().st_mode & 0o077 == 0
    assert stored.read_text().startswith("$argon2id$")
    assert set_password(config, monkeypatch, "short") == 65
    assert "at least 10 characters" in capsys.readouterr().err


def test_the_app_bootstrap_builds_logs_in_and_locks_the_switch_without_a_daemon(
    initialised: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set_password(initialised, monkeypatch, PASSWORD) == 0
    settings = bootstrap.settings_from(str(initialised), {})
    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        browser = Browser(app.web_app())
        login = browser.get("/login").text
        sent = {"csrf_token": TOKEN.search(login).group(1)}  # type: ignore[union-attr]
        assert browser.post("/login", {**sent, "password": "wrong password"}).status_code == 401
        assert browser.post("/login", {**sent, "password": PASSWORD}).status_code == 303
        today = browser.get("/").text
        assert "read from database" in today and "kill switch: unlocked" in today
        csrf = TOKEN.search(today).group(1)  # type: ignore[union-attr]
        done = browser.post("/desk/act", {"csrf_token": csrf, "action": "lock",
                                          "confirm": "yes", "reason": "from the phone"})
        assert done.status_code == 303
        after = browser.get("/").text
        assert "guard_tripped" in after and "LOCKED by skimd web: from the phone" in after
        # what the pushed alert stream reads: the outbox after the page's newest alert
        from skimd.infrastructure.control.alert_feed import alerts_after, recent_alerts

        (newest,) = recent_alerts(app.database.unit_of_work, app.calendar.zone, 1)
        assert newest["alert"] == "guard_tripped" and f'data-after="{newest["id"]}"' in after
        read = alerts_after(app.database.unit_of_work, app.calendar.zone, newest["id"] - 1)
        assert read == [newest]
        assert alerts_after(app.database.unit_of_work, app.calendar.zone, newest["id"]) == []
        assert browser.get("/journal").status_code == 200
        assert "round trips" in browser.get("/stats").text
    capsys.readouterr()
    assert cli(initialised, "status", "--json") == 0
    guard = json.loads(capsys.readouterr().out)["guard"]
    assert guard["locked"] is True and guard["reason"] == "from the phone"


def test_web_refuses_a_public_address_without_tls(
    make_config, clean_env: None, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    config = make_config('\n[web]\nhost = "0.0.0.0"\n')
    assert cli(config, "web") == 78
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[web] host: '0.0.0.0' is not a loopback address" in err


def test_web_refuses_to_serve_before_a_password_is_set(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(initialised, "web") == 78
    assert "[web] password_file: no password set" in capsys.readouterr().err


def test_without_a_database_today_says_so_and_the_journal_answers_one_line(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set_password(config, monkeypatch, PASSWORD) == 0
    settings = bootstrap.settings_from(str(config), {})
    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        browser = Browser(app.web_app())
        sent = {"csrf_token": TOKEN.search(browser.get("/login").text).group(1)}  # type: ignore[union-attr]
        assert browser.post("/login", {**sent, "password": PASSWORD}).status_code == 303
        today = browser.get("/")
        assert today.status_code == 200 and "no database yet" in today.text
        journal = browser.get("/journal")
        assert journal.status_code == 503 and 'id="error"' in journal.text
        assert "Traceback" not in journal.text
    assert not (config.parent / "data" / "skimd.db").exists()
