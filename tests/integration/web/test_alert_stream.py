"""Today's alert stream (Server-Sent Events): the alerts stored after the page's last
one, then each one stored later, pushed as events; a login needed and the stream ended
with the session; the page loads the script that listens to it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.integration.web.fakes import Browser, make_rig
from tests.integration.web.test_web_app import logged_in

LATER = {"id": 9, "kind": "alert", "alert": "position_exited", "at": "2026-11-24T11:02:00+11:00",
         "severity": "info", "text": "SELL 100 QMT @ 2.90 <script>"}


def events(text: str) -> list[dict[str, Any]]:
    """The ``event: alert`` blocks of an event stream, with their ids."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "alert":
            found.append({"id": int(fields["id"]), **json.loads(fields["data"])})
    return found


def test_the_stream_needs_a_login() -> None:
    answer = Browser(make_rig().app).get("/alerts/stream")
    assert answer.status_code == 401 and "alert" not in answer.text


def test_the_stream_sends_what_was_stored_after_the_pages_last_alert_then_what_comes() -> None:
    rig = make_rig(stream_polls=3)
    rig.outbox.on_read = [lambda: None, lambda: rig.outbox.alerts.append(LATER)]
    client = logged_in(rig)
    answer = client.get("/alerts/stream?after=6")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.startswith("retry: 3000\n\n")
    assert events(answer.text) == [
        {"id": 7, "at": "2026-11-24T10:17:40+11:00", "severity": "info",
         "alert": "order_filled", "text": "BUY 5555 VPL filled @ 2.85 <b>"},
        {"id": 9, "at": "2026-11-24T11:02:00+11:00", "severity": "info",
         "alert": "position_exited", "text": "SELL 100 QMT @ 2.90 <script>"},
    ]  # JSON, written into the page as text by the script: never HTML
    assert rig.outbox.reads == 3


def test_a_reconnect_resumes_after_the_last_event_id_and_no_after_means_from_now() -> None:
    rig = make_rig(stream_polls=1)
    rig.outbox.alerts.append(LATER)
    client = logged_in(rig)
    resumed = client.get("/alerts/stream?after=0", {"Last-Event-ID": "7"}).text
    assert [e["id"] for e in events(resumed)] == [9]
    assert events(client.get("/alerts/stream").text) == []  # only alerts stored from now
    assert client.get("/alerts/stream?after=x").status_code == 400


def test_the_stream_ends_with_the_session() -> None:
    rig = make_rig(stream_polls=5)
    expire = lambda: rig.clock.advance(timedelta(hours=13).total_seconds())  # noqa: E731
    rig.outbox.on_read = [expire, lambda: rig.outbox.alerts.append(LATER)]
    text = logged_in(rig).get("/alerts/stream?after=6").text
    assert [e["id"] for e in events(text)] == [7] and rig.outbox.reads == 1


def test_today_listens_to_the_stream_from_its_newest_alert() -> None:
    client = logged_in(make_rig())
    page = client.get("/").text
    assert 'data-after="7"' in page and '<script src="/static/today.js" defer></script>' in page
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page
    script = client.get("/static/today.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text and "textContent" in script.text
    assert "innerHTML" not in script.text
    csp = script.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp

