"""The repository calls by the journal specification's names round-trip on a real
database (both storage modes): ``TradeRepository.save/get(exec_id)/exists`` and
``ImageRepository.save(owner_type, owner_id, ...)/get/get_for_owner/get_thumbnail``; and
every field revision 0005 added reads back as written, with its exact type."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image as PILImage

from skimd.errors import InvalidInputError
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import (
    Account,
    BankTransaction,
    ExcursionMetric,
    Trade,
    TradePlan,
    TradeReport,
    Watchlist,
)


def trade(exec_id: str, now: datetime, price: str = "45.10") -> Trade:
    return Trade(exec_id=exec_id, ticker="BHP", side="BUY", qty=Decimal(100),
                 price=Decimal(price), executed_at=now)


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (10, 20, 200)).save(out, format="PNG")
    return out.getvalue()


def test_trade_repository_save_get_exists(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        assert not uow.trades.exists("TEST001") and uow.trades.get("TEST001") is None
        saved = uow.trades.save(trade("TEST001", now))
        assert saved.id is not None
        corrected = uow.trades.save(trade("TEST001", now, price="45.12"))  # same exec id
        assert corrected.id == saved.id
    with db.unit_of_work(read_only=True) as uow:
        got = uow.trades.get("TEST001")
        assert got is not None and uow.trades.exists("TEST001")
        assert (got.price, got.executed_at, got.ticker) == (Decimal("45.12"), now, "BHP")
        assert len(uow.trades.list_all()) == 1
        with pytest.raises(TypeError, match="takes the exec id"):
            uow.trades.get(1)


def test_image_repository_by_owner(db: TradingDatabase, now: datetime) -> None:
    data = png((900, 600))
    with db.unit_of_work() as uow:
        owner = uow.trades.save(trade("E1", now))
        plan = uow.plans.add(TradePlan(ticker="BHP", entry=Decimal("45.10"), stop=Decimal(44),
                                       created_at=now, updated_at=now))
        assert owner.id is not None and plan.id is not None
        on_trade = uow.images.save("trade", owner.id, data, now, kind="screenshot",
                                   caption="entry")
        on_plan = uow.images.save("plan", plan.id, data, now)
        for bad_type, bad_id, message in (("position", 1, "owner type 'position'"),
                                          ("plan", 999, "there is no plan 999")):
            with pytest.raises(InvalidInputError, match=message):
                uow.images.save(bad_type, bad_id, data, now)
    with db.unit_of_work(read_only=True) as uow:
        got = uow.images.get(on_trade.id)
        assert got is not None
        assert (got.owner_type, got.owner_id, got.caption, got.file_size, got.data) == (
            "trade", owner.id, "entry", len(data), data)
        assert [i.id for i in uow.images.get_for_owner("plan", plan.id)] == [on_plan.id]
        assert uow.images.get_for_owner("report", 1) == []
        assert uow.images.get(123456) is None
        with pytest.raises(TypeError, match="takes the image id"):
            uow.images.get("TEST001")
        stored = uow.images.get_thumbnail(on_trade.id or 0)
        small = uow.images.get_thumbnail(on_trade.id or 0, max_size=(90, 90))
        assert uow.images.get_thumbnail(999) is None
    assert stored is not None and small is not None
    with PILImage.open(io.BytesIO(stored)) as a, PILImage.open(io.BytesIO(small)) as b:
        assert a.size == (320, 213) and b.size == (90, 60) and b.format == "WEBP"


def test_revision_0005_fields_round_trip(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.accounts.add(Account(account_id="U9", created_at=now, account_type="smsf",
                                 institution="Interactive Brokers Australia",
                                 tax_advantaged=True, notes="super fund"))
        uow.plans.add(TradePlan(ticker="CBA", entry=Decimal("120.5"), stop=Decimal("122"),
                                created_at=now, updated_at=now, direction="short",
                                conviction="low", strategy_name="fade",
                                strategy_description="fade the gap", entry_conditions="fail",
                                exit_conditions="VWAP", timeframe="intraday", account="U9"))
        uow.watchlists.add(Watchlist(name="w", created_at=now, description="gaps",
                                     updated_at=now + timedelta(hours=1)))
        t = uow.trades.save(trade("E1", now))
        report = uow.reports.add(TradeReport(report_date=date(2024, 7, 3), title="t",
                                             created_at=now, setup_quality=5,
                                             execution_quality=1, followed_plan=False,
                                             emotional_state="fomo", lessons_learned="wait",
                                             tags='["a"]'))
        uow.excursions.upsert(ExcursionMetric(trade_id=t.id or 0, mfe=Decimal("90"),
                                              mae=Decimal("-20"), computed_at=now,
                                              mfe_pct=Decimal("1.9956"),
                                              mae_pct=Decimal("-0.4435"),
                                              data_source="broker_1min_bars"))
        uow.session.add(BankTransaction(hash="h", account="a", posted_on=date(2024, 7, 1),
                                        amount=Decimal("-1.10"), imported_at=now,
                                        post_date=date(2024, 7, 2), category="fee",
                                        source="csv", import_batch_id="B1"))
    with db.unit_of_work(read_only=True) as uow:
        s = uow.session
        account = uow.accounts.list_all()[0]
        assert (account.account_type, account.institution, account.tax_advantaged,
                account.notes) == ("smsf", "Interactive Brokers Australia", True, "super fund")
        plan = uow.plans.list_all()[0]
        assert (plan.direction, plan.conviction, plan.strategy_name, plan.strategy_description,
                plan.entry_conditions, plan.exit_conditions, plan.timeframe, plan.account,
                plan.entry) == ("short", "low", "fade", "fade the gap", "fail", "VWAP",
                                "intraday", "U9", Decimal("120.5"))
        watchlist = uow.watchlists.by_name("w")
        assert watchlist is not None and watchlist.description == "gaps"
        assert watchlist.updated_at == now + timedelta(hours=1)
        got = s.get(TradeReport, report.id)
        assert got is not None and (got.setup_quality, got.execution_quality,
                                    got.followed_plan, got.emotional_state,
                                    got.lessons_learned, got.tags) == (5, 1, False, "fomo",
                                                                       "wait", '["a"]')
        (exc,) = uow.excursions.list_all()
        assert (exc.mfe_pct, exc.mae_pct, exc.bso_pct, exc.data_source) == (
            Decimal("1.9956"), Decimal("-0.4435"), None, "broker_1min_bars")
        (line,) = uow.bank.list_all()
        assert (line.post_date, line.category, line.source, line.import_batch_id) == (
            date(2024, 7, 2), "fee", "csv", "B1")
    with db.unit_of_work() as uow:
        assert uow.bank.delete_batch("B1") == 1 and uow.bank.delete_batch("B1") == 0


def test_provider_limits_and_last_test(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.providers.set_limits("marketdata", now, rate_limit_per_minute=60,
                                 timeout_s=Decimal("2.5"))
        uow.providers.record_test("marketdata", now + timedelta(minutes=1), ok=False,
                                  message="HTTP 401")
        with pytest.raises(ValueError, match="rate limit must be at least 1"):
            uow.providers.set_limits("x", now, rate_limit_per_minute=0, timeout_s=None)
    with db.unit_of_work(read_only=True) as uow:
        row = uow.providers.by_provider("marketdata")
        assert row is not None
        got = (row.rate_limit_per_minute, row.timeout_s, row.last_tested_at, row.last_test_ok,
               row.last_test_message, row.enabled)
    assert got == (60, Decimal("2.5"), now + timedelta(minutes=1), False, "HTTP 401", True)
