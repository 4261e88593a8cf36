"""The daemon records what it saw, in its own units of work (migration 0007): the news
scan's announcements, each scan's gaps, every polled quote (buffered, written every
RECORD_EVERY of market time and by the end of day)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from skimd.infrastructure.database.tables import RecordedAnnouncement, RecordedQuote
from skimd.services.trading.intraday import RECORD_EVERY
from tests.integration.trading.desk import DAY, MARKET, Desk


def _rows(desk: Desk) -> tuple[list[RecordedQuote], list[RecordedAnnouncement]]:
    with desk.db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(RecordedQuote))
        quotes = [RecordedQuote.model_validate(q) for q in rows]
        news = [
            RecordedAnnouncement.model_validate(a)
            for a in uow.session.scalars(select(RecordedAnnouncement))
        ]
    return quotes, news


async def test_scans_and_polls_are_recorded_in_the_daemons_units_of_work(desk: Desk) -> None:
    desk.at(DAY, 10, 5)
    outcome = await desk.day.scanner.scan_gaps()
    assert outcome.gaps
    quotes, news = _rows(desk)
    scans = {(q.symbol, q.kind) for q in quotes}
    assert scans == {(g.symbol, "scan") for g in outcome.gaps}
    released = MARKET.announcements(DAY, desk.clock.now())
    assert {(a.symbol, a.headline) for a in news} == {(a.symbol, a.headline) for a in released}

    await desk.day.poll()  # the first snapshots are pre-flights (no data): nothing kept
    desk.at(DAY, 10, 5, 5)
    await desk.day.poll()
    assert [q for q in _rows(desk)[0] if q.kind == "poll"] == []  # buffered, not written
    polled_at = desk.clock.now()
    desk.clock.advance_to(polled_at + RECORD_EVERY)
    await desk.day.poll()
    polls = [q for q in _rows(desk)[0] if q.kind == "poll"]
    assert {q.at for q in polls} == {polled_at, polled_at + RECORD_EVERY}
    assert {q.symbol for q in polls} == {g.symbol for g in outcome.gaps}
    first = next(q for q in polls if q.at == polled_at)
    live = MARKET.quote(first.symbol, polled_at)
    assert (first.last, first.bid, first.ask, first.volume) == (
        live.last, live.bid, live.ask, live.volume
    )

    last = polled_at + RECORD_EVERY + timedelta(seconds=5)
    desk.clock.advance_to(last)
    await desk.day.poll()
    written = {q.at for q in _rows(desk)[0] if q.kind == "poll"}
    assert written == {polled_at, polled_at + RECORD_EVERY}  # the third still buffered
    desk.at(DAY, 16, 15)
    await desk.day.end_of_day()  # writes the rest of the day's tape
    assert {q.at for q in _rows(desk)[0] if q.kind == "poll"} == {
        polled_at, polled_at + RECORD_EVERY, last
    }
