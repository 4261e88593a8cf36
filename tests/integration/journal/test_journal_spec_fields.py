"""The journal specification's fields (revision 0005) written by the code that owns them:
bank lines with their source, post date, category and import batch (and
``import-bank --undo``), excursions in percent with their data source, settings that read
back with their own type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from skimd.domain.excursions import Excursion, percent_of_entry
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.journal_store import SqlJournalStore
from skimd.infrastructure.database.tables import BankTransaction, ExcursionMetric, UserSetting
from tests.integration.journal.journal_rows import seed_journal
from tests.integration.journal.test_journal_commands import CBA, FIXTURES, run

pytestmark = pytest.mark.usefixtures("clean_env")
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Line:
    source: str | None
    import_batch_id: str | None
    post_date: date | None
    posted_on: date
    category: str | None


def bank(db: TradingDatabase) -> list[Line]:
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(BankTransaction).order_by(BankTransaction.id))  # type: ignore[arg-type]
        return [Line(r.source, r.import_batch_id, r.post_date, r.posted_on, r.category)
                for r in rows]


def test_bank_lines_carry_source_batch_and_an_import_can_be_undone(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "bank-config", "add", "cba", *CBA) == 0
    capsys.readouterr()
    assert run(config, "import-bank", str(FIXTURES / "statement.csv"), "--bank", "cba",
               "--json") == 0
    csv_batch = json.loads(capsys.readouterr().out)["batch"]
    assert run(config, "import-bank", str(FIXTURES / "statement_v1.ofx"), "--bank", "westpac") == 0
    printed = capsys.readouterr().out
    assert "imported 3" in printed and "--undo" in printed
    rows = bank(db)
    assert {(r.source, r.import_batch_id == csv_batch) for r in rows} == {
        ("csv", True), ("ofx", False)}
    assert all(r.post_date == r.posted_on for r in rows)
    assert {r.category for r in rows if r.source == "csv"} == {None}
    assert all(r.category for r in rows if r.source == "ofx")  # the OFX TRNTYPE

    assert run(config, "import-bank", "--undo", csv_batch, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"batch": csv_batch, "removed": 4}
    assert {r.source for r in bank(db)} == {"ofx"}
    assert run(config, "import-bank", "--undo", csv_batch) == 65
    assert capsys.readouterr().err.strip() == (
        f"skimd: import batch {csv_batch!r}: no bank lines carry it (nothing to undo)")
    assert run(config, "import-bank", str(FIXTURES / "statement.csv"), "--undo", "x") == 65
    assert "--undo BATCH takes no FILE" in capsys.readouterr().err
    assert run(config, "import-bank") == 65
    assert "needs FILE and --bank ID" in capsys.readouterr().err
    assert len(bank(db)) == 3


def test_excursions_are_kept_in_percent_with_their_source(db: TradingDatabase) -> None:
    seed_journal(db)
    excursion = Excursion(
        mfe_per_share=Decimal("0.90"), mae_per_share=Decimal("-0.20"), mfe=Decimal("900"),
        mae=Decimal("-200"), mfe_price=Decimal("46.00"), mae_price=Decimal("44.90"),
        bso_per_share=None, bso=None, bso_price=None,
    )
    store = SqlJournalStore(db.unit_of_work)
    with store.transaction() as tx:
        tx.save_excursion("BHP-1", excursion, NOW, entry_price=Decimal("45.10"),
                          source="broker_1min_bars")
    with db.unit_of_work(read_only=True) as uow:
        (row,) = uow.session.scalars(select(ExcursionMetric)).all()
        stored = (row.mfe, row.mfe_pct, row.mae_pct, row.bso_pct, row.data_source)
    assert stored == (
        Decimal("900"), Decimal("1.9956"), Decimal("-0.4435"), None, "broker_1min_bars")
    assert percent_of_entry(Decimal(1), Decimal(0)) is None


def test_settings_read_back_with_their_type(db: TradingDatabase) -> None:
    values = {"cap": Decimal("1500.05"), "n": 3, "on": True, "ratio": 0.5, "name": "x",
              "list": [1, 2]}
    with db.unit_of_work() as uow:
        for key, value in values.items():
            uow.settings.set_user(key, value, NOW)
    with db.unit_of_work(read_only=True) as uow:
        back = {key: uow.settings.resolve(key) for key in values}
        types = {r.key: r.value_type for r in uow.session.scalars(select(UserSetting))}
    assert back == values and isinstance(back["cap"], Decimal)
    assert types == {"cap": "decimal", "n": "int", "on": "bool", "ratio": "float",
                     "name": "str", "list": "json"}


def test_a_watchlist_is_stamped_when_its_items_change(db: TradingDatabase) -> None:
    store = SqlJournalStore(db.unit_of_work)
    later = NOW + timedelta(days=1)
    with store.transaction() as tx:
        tx.save_watchlist("gappers", [("BHP", "gap 3%")], NOW)
    with store.transaction() as tx:
        tx.save_watchlist("gappers", [("CBA", "gap 4%")], later)
    with db.unit_of_work(read_only=True) as uow:
        watchlist = uow.watchlists.by_name("gappers")
        assert watchlist is not None
        stamps = (watchlist.created_at, watchlist.updated_at)
    assert stamps == (NOW, later)


def test_bank_lines_without_a_stated_currency_take_the_bank_currency_preference(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "bank-config", "add", "cba", *CBA) == 0  # states no currency
    assert run(config, "import-bank", str(FIXTURES / "statement.csv"), "--bank", "cba") == 0
    with db.unit_of_work() as uow:
        assert {r.currency for r in uow.bank.list_all()} == {"AUD"}  # the app default
        uow.session.execute(delete(BankTransaction))
        uow.settings.set_user("bank.currency", "NZD", NOW)
    assert run(config, "import-bank", str(FIXTURES / "statement.csv"), "--bank", "cba") == 0
    with db.unit_of_work(read_only=True) as uow:
        assert {r.currency for r in uow.bank.list_all()} == {"NZD"}
