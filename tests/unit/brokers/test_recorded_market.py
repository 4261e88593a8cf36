"""The recorded market (skimd.infrastructure.brokers.demo.recorded) on a hand-made tape:
quotes as recorded, crossings between polls at the level, the open at the session's
open, the scans' tickers for the gap scan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from skimd.domain.market import Announcement, Bar, Quote
from skimd.infrastructure.brokers.demo.recorded import RecordedMarket
from skimd.infrastructure.calendar import AsxCalendar

DAY = date(2026, 11, 24)
OPEN = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 10:00 Sydney (UTC+11)
D = Decimal


def _q(symbol: str, seconds: int, last: str | None, **extra: str) -> Quote:
    fields = {k: D(v) for k, v in extra.items()}
    return Quote(conid=11 if symbol == "AAA" else 22, symbol=symbol,
                 at=OPEN + timedelta(seconds=seconds), last=None if last is None else D(last),
                 bid=None if last is None else D(last) - D("0.01"), **fields)  # fmt: skip


class Tape:
    """Recordings of one day: AAA polled every 5 s from 10:00:30, BBB scanned once."""

    def __init__(self) -> None:
        self.closed = False
        self.tape = [
            ("poll", _q("AAA", 30, "2.50", open="2.40", prev_close="2.30")),
            ("poll", _q("AAA", 35, "2.54", open="2.40", prev_close="2.30")),
            ("scan", _q("AAA", 35, None, open="2.40", prev_close="2.30")),
            ("poll", _q("AAA", 40, "2.44", open="2.40", prev_close="2.30")),
            ("scan", _q("BBB", 40, None, open="1.10", prev_close="1.00")),
        ]

    def listings(self) -> list[tuple[str, int | None]]:
        return [("AAA", 11), ("BBB", 22)]

    def quotes(self, day: date) -> list[tuple[str, Quote]]:
        return self.tape if day == DAY else []

    def bars(self, day: date) -> list[Bar]:
        return []

    def announcements(self, day: date) -> list[Announcement]:
        return [Announcement("AAA", "Maiden Resource", OPEN - timedelta(hours=1), True)]

    def daily_bars(self, symbol: str, until: date, days: int) -> list[Bar]:
        return []

    def close(self) -> None:
        self.closed = True


def _market() -> tuple[RecordedMarket, Tape]:
    tape = Tape()
    return RecordedMarket(tape, calendar=AsxCalendar("Australia/Sydney")), tape


def test_a_quote_is_the_last_recorded_at_or_before_the_instant() -> None:
    market, _ = _market()
    quote = market.quote("AAA", OPEN + timedelta(seconds=37))
    assert quote.last == D("2.54") and quote.bid == D("2.53")  # the poll, not the scan
    assert quote.at == OPEN + timedelta(seconds=37)
    early = market.quote("AAA", OPEN + timedelta(seconds=10))
    assert early.last is None and early.prev_close is None
    assert market.by_conid(22) is market.ticker("bbb")


def test_a_level_crossed_between_two_polls_is_crossed_at_the_level() -> None:
    market, _ = _market()
    hit = market.first_cross("AAA", OPEN + timedelta(seconds=35), OPEN + timedelta(minutes=5),
                             D("2.49"), below=True)  # fmt: skip
    assert hit is not None
    at, price = hit
    assert price == D("2.49") and OPEN + timedelta(seconds=35) < at < OPEN + timedelta(seconds=40)
    assert market.first_cross("AAA", OPEN + timedelta(seconds=35), OPEN + timedelta(seconds=36),
                              D("2.49"), below=True) is None  # fmt: skip
    # already through at the start: at the recorded price there
    through = market.first_cross("AAA", OPEN + timedelta(seconds=36),
                                 OPEN + timedelta(minutes=5), D("2.60"), below=True)  # fmt: skip
    assert through == (OPEN + timedelta(seconds=36), D("2.54"))


def test_an_overnight_stop_meets_the_open_at_the_sessions_open() -> None:
    market, _ = _market()
    yesterday = OPEN - timedelta(hours=20)
    hit = market.first_cross("AAA", yesterday, OPEN + timedelta(minutes=1), D("2.45"), below=True)
    assert hit == (OPEN, D("2.40"))
    assert market.opens_at("AAA", DAY) == OPEN


def test_the_gap_scan_sees_what_the_recorded_scans_reported() -> None:
    market, tape = _market()
    assert [o.symbol for o in market.opened(OPEN + timedelta(seconds=36))] == ["AAA"]
    assert [o.symbol for o in market.opened(OPEN + timedelta(seconds=40))] == ["BBB", "AAA"]
    assert market.announcements(DAY, until=OPEN)[0].headline == "Maiden Resource"
    market.close()
    assert tape.closed
