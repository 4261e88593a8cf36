from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.alerts import CandidateDigest, CandidateFound, JobFailed
from skimd.domain.trading import CandidateSource
from skimd.errors import NotificationDeliveryError
from skimd.infrastructure.alert_codec import alert_from_payload
from skimd.infrastructure.notifications.console import ConsoleNotifier
from skimd.infrastructure.notifications.fanout import FanOutNotifier
from skimd.infrastructure.notifications.jsonl import JsonlNotifier
from tests.fakes.notifiers import RecordingNotifier

T = datetime(2024, 6, 3, 0, 5, 9, tzinfo=UTC)  # 10:05:09 in Sydney
SYDNEY = ZoneInfo("Australia/Sydney")
FAILED = JobFailed(
    occurred_at=T, job_id="gap_scan", error_type="DataSourceError", message="timeout\nafter 10 s"
)


async def test_console_prints_one_readable_line_in_market_time() -> None:
    out = io.StringIO()
    await ConsoleNotifier(out, tz=SYDNEY).send(FAILED)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("10:05:09 WARN job_failed")
    assert "timeout after 10 s" in lines[0]


async def test_console_digest_lists_the_table() -> None:
    out = io.StringIO()
    cands = tuple(
        CandidateFound(occurred_at=T, symbol=s, source=CandidateSource.GAP, gap_pct=Decimal(5))
        for s in ("AAA", "BBB")
    )
    await ConsoleNotifier(out, tz=SYDNEY).send(CandidateDigest(occurred_at=T, candidates=cands))
    text = out.getvalue()
    assert "2 candidates" in text.splitlines()[0]
    assert "    AAA" in text and "    BBB" in text


async def test_console_on_a_closed_stream_is_a_delivery_error() -> None:
    out = io.StringIO()
    out.close()
    with pytest.raises(NotificationDeliveryError):
        await ConsoleNotifier(out, tz=SYDNEY).send(FAILED)


async def test_jsonl_appends_replayable_private_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    notifier = JsonlNotifier(path)
    await notifier.send(FAILED)
    await notifier.send(FAILED)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["severity"] == "warning" and record["kind"] == "job_failed"
    assert alert_from_payload(record["payload"]) == FAILED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_jsonl_unwritable_path_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotificationDeliveryError):
        await JsonlNotifier(blocker / "alerts.jsonl").send(FAILED)


async def test_fanout_delivers_to_the_healthy_members_and_names_the_failed() -> None:
    good, bad = RecordingNotifier("console"), RecordingNotifier("discord")
    bad.failure = NotificationDeliveryError("down")
    with pytest.raises(NotificationDeliveryError, match="discord"):
        await FanOutNotifier([bad, good]).send(FAILED)
    assert good.received == [FAILED]


def test_fanout_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        FanOutNotifier([RecordingNotifier("a"), RecordingNotifier("a")])
