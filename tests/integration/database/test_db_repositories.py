"""One repository suite, run against a plain SQLite file and an SQLCipher file."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage
from pydantic import SecretStr
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from skimd.errors import IntegrityError, InvalidInputError
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import (
    BalanceSnapshot,
    BankTransaction,
    Candidate,
    HistoricalPrice,
    OrderIntent,
    Position,
    RoundTrip,
    Trade,
    TradePlan,
)

EXACT = Decimal("12345678.123456")


def candidate(ticker: str, scan_date: date, now: datetime, **kw: object) -> Candidate:
    return Candidate(
        scan_date=scan_date,
        ticker=ticker,
        created_at=now,
        updated_at=now,
        **kw,  # type: ignore[arg-type]
    )


def trade(exec_id: str, now: datetime, price: Decimal = Decimal("1.005")) -> Trade:
    return Trade(
        exec_id=exec_id, ticker="BHP", side="BUY", qty=Decimal(100), price=price, executed_at=now
    )


def intent(coid: str, now: datetime, **kw: object) -> OrderIntent:
    return OrderIntent(
        client_order_id=coid,
        ticker="BHP",
        side="BUY",
        qty=100,
        order_type="LMT",
        limit_price=Decimal("45.67"),
        created_at=now,
        updated_at=now,
        **kw,  # type: ignore[arg-type]
    )


# -- exactness --------------------------------------------------------------------------------


def test_money_round_trips_exactly_and_is_stored_as_text(
    db: TradingDatabase, now: datetime
) -> None:
    with db.unit_of_work() as uow:
        uow.candidates.upsert(
            candidate("BHP", date(2025, 3, 14), now, prev_close=EXACT, gap_pct=Decimal("0.10")),
            now,
        )
        uow.trades.add_new(trade("E1", now, price=EXACT))
    with db.unit_of_work(read_only=True) as uow:
        got = uow.candidates.get_by_key(date(2025, 3, 14), "BHP", "orh_breakout")
        assert got is not None
        assert got.prev_close == EXACT and str(got.prev_close) == "12345678.123456"
        assert str(got.gap_pct) == "0.10"  # trailing zero kept: nothing went through a float
        stored = uow.trades.get_by_exec_id("E1")
        assert stored is not None and stored.price == EXACT
        raw = uow.session.execute(text("SELECT typeof(price), price FROM trades")).one()
        assert tuple(raw) == ("text", "12345678.123456")


def test_float_money_is_refused(db: TradingDatabase, now: datetime) -> None:
    with pytest.raises(sa_exc.StatementError, match="exact decimal"), db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", now, price=1.1))  # type: ignore[arg-type]


def test_timestamps_come_back_aware_utc(db: TradingDatabase) -> None:
    sydney = timezone(timedelta(hours=11))
    local = datetime(2025, 1, 6, 10, 0, 1, 250000, tzinfo=sydney)
    with db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", local))
    with db.unit_of_work(read_only=True) as uow:
        got = uow.trades.get_by_exec_id("E1")
        assert got is not None
        assert got.executed_at == local
        assert got.executed_at.utcoffset() == timedelta(0)
        assert got.executed_at.hour == 23 and got.executed_at.day == 5


def test_naive_timestamp_is_refused(db: TradingDatabase) -> None:
    with pytest.raises(sa_exc.StatementError, match="naive"), db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", datetime(2025, 1, 6, 10, 0)))


# -- unit of work ----------------------------------------------------------------------------


def test_exception_rolls_back_everything(db: TradingDatabase, now: datetime) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", now))
        uow.outbox.enqueue("fill", {"ticker": "BHP"}, now)
        raise RuntimeError("boom")
    with db.unit_of_work(read_only=True) as uow:
        assert not uow.trades.exists("E1")
        assert uow.outbox.due(now + timedelta(days=1)) == []


def test_read_only_unit_of_work_never_commits(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work(read_only=True) as uow:
        uow.trades.add_new(trade("E1", now))
    with db.unit_of_work(read_only=True) as uow:
        assert not uow.trades.exists("E1")


def test_duplicate_exec_id_is_detected_not_overwritten(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        assert uow.trades.add_new(trade("E1", now, price=Decimal("1.00"))) is True
    with db.unit_of_work() as uow:
        assert uow.trades.exists("E1")
        assert uow.trades.add_new(trade("E1", now, price=Decimal("9.99"))) is False
    with db.unit_of_work(read_only=True) as uow:
        stored = uow.trades.get_by_exec_id("E1")
        assert stored is not None and stored.price == Decimal("1.00")
    with db.unit_of_work() as uow:
        batch = [trade("E1", now), trade("E2", now), trade("E2", now), trade("E3", now)]
        assert uow.trades.add_many(batch) == 2
        assert uow.trades.add_many([]) == 0
    with db.unit_of_work(read_only=True) as uow:
        stored_ids = [t.exec_id for t in uow.trades.list_between(now, now + timedelta(days=1))]
        assert stored_ids == ["E1", "E2", "E3"]
    with pytest.raises(IntegrityError, match=r"trades\.exec_id"), db.unit_of_work() as uow:
        uow.trades.add(trade("E1", now))


# -- candidates, positions, orders ---------------------------------------------------------------


def test_candidate_upsert_updates_the_same_row(db: TradingDatabase, now: datetime) -> None:
    day = date(2025, 3, 14)
    with db.unit_of_work() as uow:
        first = uow.candidates.upsert(candidate("BHP", day, now, gap_pct=Decimal("3.1")), now)
    later = now + timedelta(minutes=5)
    with db.unit_of_work() as uow:
        again = uow.candidates.upsert(
            candidate("BHP", day, later, gap_pct=Decimal("3.4"), orh=Decimal("45.10")), later
        )
        assert again.id == first.id
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.candidates.list_for_date(day)
        assert [(r.ticker, r.gap_pct, r.orh) for r in rows] == [
            ("BHP", Decimal("3.4"), Decimal("45.10"))
        ]
        assert rows[0].created_at == now and rows[0].updated_at == later
        uow.session.rollback()
    with db.unit_of_work() as uow:
        uow.candidates.set_status(first.id or 0, "ranging", later)
    with db.unit_of_work(read_only=True) as uow:
        assert [c.ticker for c in uow.candidates.list_by_status(["ranging"])] == ["BHP"]
        assert uow.candidates.list_for_date(day, statuses=["new"]) == []


def test_purge_keeps_candidates_linked_to_open_positions_or_live_plans(
    db: TradingDatabase, now: datetime
) -> None:
    old, today = date(2025, 1, 2), date(2025, 3, 14)
    with db.unit_of_work() as uow:
        ids = {
            t: uow.candidates.upsert(candidate(t, old, now), now).id
            for t in ("OLD", "HELD", "PLANNED", "DONEPLAN", "CLOSEDPOS")
        }
        uow.candidates.upsert(candidate("FRESH", today, now), now)
        uow.positions.add(
            Position(
                ticker="HELD",
                qty=10,
                avg_price=Decimal(1),
                opened_at=now,
                entry_date=old,
                candidate_id=ids["HELD"],
            )
        )
        uow.positions.add(
            Position(
                ticker="CLOSEDPOS",
                qty=10,
                avg_price=Decimal(1),
                opened_at=now,
                entry_date=old,
                status="closed",
                candidate_id=ids["CLOSEDPOS"],
            )
        )
        uow.plans.add(
            TradePlan(
                ticker="PLANNED",
                entry=Decimal(1),
                stop=Decimal("0.9"),
                status="active",
                candidate_id=ids["PLANNED"],
                created_at=now,
                updated_at=now,
            )
        )
        uow.plans.add(
            TradePlan(
                ticker="DONEPLAN",
                entry=Decimal(1),
                stop=Decimal("0.9"),
                status="cancelled",
                candidate_id=ids["DONEPLAN"],
                created_at=now,
                updated_at=now,
            )
        )
        uow.orders.add(intent("C-OLD", now, candidate_id=ids["OLD"]))
    with db.unit_of_work() as uow:
        assert uow.candidates.purge_older_than(today, days=30) == 3
    with db.unit_of_work(read_only=True) as uow:
        left = sorted(c.ticker for c in uow.candidates.list_all())
        assert left == ["FRESH", "HELD", "PLANNED"]
        kept_intent = uow.orders.get_by_client_order_id("C-OLD")
        assert kept_intent is not None and kept_intent.candidate_id is None


def test_positions_open_list_get_and_close(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        pos = uow.positions.add(
            Position(
                ticker="BHP",
                qty=100,
                avg_price=Decimal("45.5"),
                stop=Decimal("44"),
                opened_at=now,
                entry_date=date(2025, 3, 14),
            )
        )
        uow.positions.add(
            Position(
                ticker="CBA",
                qty=5,
                avg_price=Decimal("150"),
                opened_at=now,
                entry_date=date(2025, 3, 14),
            )
        )
    with db.unit_of_work() as uow:
        assert [p.ticker for p in uow.positions.list_open()] == ["BHP", "CBA"]
        held = uow.positions.get_open_by_ticker("BHP")
        assert held is not None and held.stop == Decimal("44") and not held.partial_exit_done
        uow.positions.close(pos.id or 0, now + timedelta(days=3))
    with db.unit_of_work(read_only=True) as uow:
        assert uow.positions.get_open_by_ticker("BHP") is None
        assert [p.ticker for p in uow.positions.list_open()] == ["CBA"]


def test_order_intent_lifecycle(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.orders.add(intent("C1", now))
        uow.orders.add(intent("C2", now + timedelta(seconds=1)))
    later = now + timedelta(seconds=5)
    with db.unit_of_work() as uow:
        uow.orders.update_status("C1", "submitted", later, broker_order_id="B-1")
        uow.orders.update_status("C2", "rejected", later, reason="price band")
    with db.unit_of_work() as uow:
        got = uow.orders.get_by_client_order_id("C1")
        assert got is not None
        assert (got.status, got.broker_order_id, got.submitted_at) == ("submitted", "B-1", later)
        assert [o.client_order_id for o in uow.orders.list_open()] == ["C1"]
        assert [o.client_order_id for o in uow.orders.list_by_status(["rejected"])] == ["C2"]
        day = uow.orders.list_created_between(now, now + timedelta(seconds=1))
        assert [o.client_order_id for o in day] == ["C1"]
        uow.orders.update_status(
            "C1", "filled", later, filled_qty=100, avg_fill_price=Decimal("45.665")
        )
    with pytest.raises(IntegrityError, match="C1 is filled"), db.unit_of_work() as uow:
        uow.orders.update_status("C1", "cancelled", later)
    with pytest.raises(IntegrityError, match="client_order_id"), db.unit_of_work() as uow:
        uow.orders.add(intent("C1", now))


# -- images ------------------------------------------------------------------------------------


def noisy_png(width: int, height: int) -> bytes:
    rng = random.Random(42)
    img = PILImage.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_image_gets_a_smaller_webp_thumbnail(db: TradingDatabase, now: datetime) -> None:
    data = noisy_png(640, 480)
    with db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", now))
        trade_id = uow.trades.get_by_exec_id("E1").id  # type: ignore[union-attr]
        saved = uow.images.save("trade", trade_id or 0, data, now, max_size=(160, 120))
    with db.unit_of_work(read_only=True) as uow:
        images = uow.images.get_for_owner("trade", trade_id or 0)
        assert [i.id for i in images] == [saved.id]
        assert images[0].data == data and images[0].mime == "image/png"
        assert (images[0].width, images[0].height) == (640, 480)
        thumb = uow.images.get_thumbnail(saved.id or 0)
    assert thumb is not None and len(thumb) < len(data)
    with PILImage.open(io.BytesIO(thumb)) as opened:
        assert opened.format == "WEBP"
        assert opened.size[0] <= 160 and opened.size[1] <= 120
        assert opened.size == (160, 120)


@pytest.mark.parametrize("junk", [b"", b"%PDF-1.7 not an image", noisy_png(4, 4)[:40]])
def test_non_image_bytes_are_refused(db: TradingDatabase, now: datetime, junk: bytes) -> None:
    with pytest.raises(InvalidInputError, match="image"), db.unit_of_work() as uow:
        uow.trades.add_new(trade("E1", now))
        owner = uow.trades.get_by_exec_id("E1")
        assert owner is not None and owner.id is not None
        uow.images.save("trade", owner.id, junk, now)
    with db.unit_of_work(read_only=True) as uow:
        assert uow.images.list_all() == []


# -- settings, provider keys, identifiers ----------------------------------------------------------


def test_settings_resolve_user_then_app_default_then_code(
    db: TradingDatabase, now: datetime
) -> None:
    with db.unit_of_work() as uow:
        assert uow.settings.resolve("gap_threshold_pct", 3.0) == 3.0
        uow.settings.set_default("gap_threshold_pct", 4.0)
        assert uow.settings.resolve("gap_threshold_pct", 3.0) == 4.0
        uow.settings.set_user("gap_threshold_pct", 5.5, now)
        assert uow.settings.resolve("gap_threshold_pct", 3.0) == 5.5
    with db.unit_of_work() as uow:
        assert uow.settings.resolve("gap_threshold_pct", 3.0) == 5.5
        uow.settings.clear_user("gap_threshold_pct")
        assert uow.settings.resolve("gap_threshold_pct", 3.0) == 4.0


def test_provider_api_key_is_fernet_encrypted(
    db: TradingDatabase, now: datetime, file_bytes: Callable[[Path], bytes]
) -> None:
    api_key = "pk_live_SUPERSECRET_0123456789"
    with db.unit_of_work() as uow:
        uow.providers.set_api_key("marketdata", SecretStr(api_key), now)
    with db.unit_of_work(read_only=True) as uow:
        got = uow.providers.get_api_key("marketdata")
        assert got is not None and got.get_secret_value() == api_key
        row = uow.providers.by_provider("marketdata")
        assert row is not None and api_key not in (row.api_key_encrypted or "")
        assert uow.providers.get_api_key("other") is None
    db.close()
    assert api_key.encode() not in file_bytes(db.path)


def test_identifier_cache_expires(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.identifiers.put("BHP", 4036812, now + timedelta(days=1), now)
        assert uow.identifiers.get_conid("BHP", now) == 4036812
        assert uow.identifiers.get_conid("BHP", now + timedelta(days=1)) is None
        assert uow.identifiers.get_conid("CBA", now) is None
        uow.identifiers.put("BHP", 99, now + timedelta(days=2), now)
        assert uow.identifiers.get_conid("BHP", now + timedelta(days=1)) == 99
        assert uow.identifiers.purge_expired(now + timedelta(days=3)) == 1


# -- outbox, job runs, guard ----------------------------------------------------------------


def test_outbox_delivers_in_queue_order_and_retries(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        first = uow.outbox.enqueue("fill", {"n": 1}, now)
        second = uow.outbox.enqueue(
            "stop", {"n": 2}, now + timedelta(seconds=1), severity="critical"
        )
        third = uow.outbox.enqueue("digest", {"n": 3}, now + timedelta(seconds=2))
        assert uow.outbox.enqueue("digest", {"n": 3}, now, dedup_key="d1") == uow.outbox.enqueue(
            "digest", {"n": 3}, now, dedup_key="d1"
        )
    at = now + timedelta(seconds=10)
    with db.unit_of_work() as uow:
        due = uow.outbox.due(at, limit=10)
        assert [a.id for a in due][:3] == [first, second, third]
        assert len(due) == 4
        assert [a.id for a in uow.outbox.due(now, limit=10)] == [first, 4]
        uow.outbox.mark_delivered(first, at)
        uow.outbox.mark_failed(second, at + timedelta(minutes=1), "HTTP 429")
        uow.outbox.mark_failed(third, None, "HTTP 400 gave up")
    with db.unit_of_work(read_only=True) as uow:
        assert [a.id for a in uow.outbox.due(at)] == [4]
        retry = uow.outbox.due(at + timedelta(minutes=1))
        assert [a.id for a in retry] == [second, 4]
        assert (retry[0].attempts, retry[0].last_error) == (1, "HTTP 429")
        failed = uow.outbox.get(third)
        assert failed is not None and failed.status == "failed"


def test_job_runs_and_guard(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        run = uow.job_runs.start("gap_scan", now)
        uow.job_runs.finish(run.id or 0, now + timedelta(seconds=3), "ok", "12 candidates")
        assert uow.guard.current().locked is False
        uow.guard.lock("daily loss cap hit", now)
    with db.unit_of_work() as uow:
        last = uow.job_runs.last("gap_scan")
        assert last is not None and (last.outcome, last.message) == ("ok", "12 candidates")
        guard = uow.guard.current()
        assert (guard.locked, guard.reason) == (True, "daily loss cap hit")
        uow.guard.unlock(now + timedelta(hours=1))
    with db.unit_of_work(read_only=True) as uow:
        assert uow.guard.current().locked is False


# -- journal aggregates ---------------------------------------------------------------------------


def test_balances_round_trips_prices_and_bank(db: TradingDatabase, now: datetime) -> None:
    day = date(2025, 3, 14)
    with db.unit_of_work() as uow:
        uow.balances.upsert(
            BalanceSnapshot(
                account="U1",
                date=day,
                cash=Decimal("100.01"),
                equity=Decimal("200.02"),
                taken_at=now,
            )
        )
        uow.balances.upsert(
            BalanceSnapshot(
                account="U1", date=day, cash=Decimal("100.05"), equity=Decimal("201"), taken_at=now
            )
        )
        rt = uow.round_trips.add(
            RoundTrip(ticker="BHP", qty=Decimal(100), entry_avg=Decimal("45.5"), opened_at=now)
        )
        uow.trades.add_new(trade("E1", now))
        stored = uow.trades.get_by_exec_id("E1")
        assert stored is not None
        stored.round_trip_id = rt.id
        uow.prices.upsert_bars(
            [
                HistoricalPrice(
                    ticker="BHP",
                    date=day - timedelta(days=1),
                    open=Decimal(1),
                    high=Decimal(2),
                    low=Decimal("0.5"),
                    close=Decimal("1.5"),
                ),
                HistoricalPrice(
                    ticker="BHP",
                    date=day,
                    open=Decimal(1),
                    high=Decimal(2),
                    low=Decimal("0.5"),
                    close=Decimal("1.6"),
                ),
            ]
        )
        uow.prices.upsert_bars(
            [
                HistoricalPrice(
                    ticker="BHP",
                    date=day,
                    open=Decimal(1),
                    high=Decimal(2),
                    low=Decimal("0.5"),
                    close=Decimal("1.7"),
                )
            ]
        )
        h = uow.bank.line_hash("acc", day, Decimal("-12.50"), "coffee")
        tx = BankTransaction(
            hash=h,
            account="acc",
            posted_on=day,
            amount=Decimal("-12.50"),
            description="coffee",
            imported_at=now,
        )
        assert uow.bank.add_new(tx) is True
        again = BankTransaction(
            hash=h,
            account="acc",
            posted_on=day,
            amount=Decimal("-12.50"),
            description="coffee",
            imported_at=now,
        )
        assert uow.bank.add_new(again) is False
    with db.unit_of_work(read_only=True) as uow:
        snap = uow.balances.get_for("U1", day)
        assert snap is not None and (snap.cash, snap.equity) == (Decimal("100.05"), Decimal("201"))
        assert len(uow.balances.between("U1", day, day)) == 1
        open_rt = uow.round_trips.open_for("BHP")
        assert open_rt is not None
        assert [t.exec_id for t in uow.round_trips.trades_of(open_rt.id or 0)] == ["E1"]
        assert uow.prices.closes("BHP", day - timedelta(days=5), day) == [
            (day - timedelta(days=1), Decimal("1.5")),
            (day, Decimal("1.7")),
        ]
        assert uow.prices.last_close("BHP", day) == (day - timedelta(days=1), Decimal("1.5"))
        assert len(uow.bank.list_all()) == 1
