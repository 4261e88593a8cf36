"""Bank statements are imported as a stream: read, checked and inserted a batch at a time in
ONE unit of work, on a real encrypted database file built through ``bootstrap``.

Memory must not grow with the statement (it did: a whole file, its text and every parsed
line were held at once); duplicates are still found against stored rows and against
earlier lines of the same file, across batches; a bad line after several batches still
leaves nothing stored.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from skimd import bootstrap
from skimd.config import Settings
from skimd.errors import InvalidInputError
from skimd.infrastructure.bank_import import BankTxnRecord, iter_csv, txn_hash
from skimd.infrastructure.bank_import.csv_format import CsvImportConfig
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.repositories import BankTransactionRepository
from skimd.infrastructure.database.tables import BankTransaction

pytestmark = pytest.mark.usefixtures("clean_env")

BATCH = BankTransactionRepository.BATCH_ROWS
PLAIN = CsvImportConfig(
    name="plain", date_column="Date", description_column="Description", amount_column="Amount"
)


def csv_lines(n: int, *, first: int = 0) -> Iterator[str]:
    """``n`` distinct CSV lines (no header), numbered from ``first``."""
    for i in range(first, first + n):
        day = date(2024, 1, 1) + timedelta(days=i // 500)
        yield f"{day:%d/%m/%Y},PAYMENT {i},-{i % 1000}.{i % 100:02d}\n"


def write_csv(path: Path, lines: Iterator[str] | list[str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Date,Description,Amount\n")
        fh.writelines(lines)
    return path


def write_ofx(path: Path, n: int, *, first: int = 0) -> Path:
    with path.open("w", encoding="ascii") as fh:
        fh.write("OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>\n<STMTRS>\n<CURDEF>AUD\n<BANKTRANLIST>\n")
        for i in range(first, first + n):
            fh.write(
                f"<STMTTRN>\n<TRNTYPE>DEBIT\n<DTPOSTED>2024{1 + i // 10000 % 12:02d}01\n"
                f"<TRNAMT>-{i % 1000}.{i % 100:02d}\n<FITID>F{i}\n<NAME>PAYMENT {i}\n</STMTTRN>\n"
            )
        fh.write("</BANKTRANLIST>\n</STMTRS>\n</OFX>\n")
    return path


def stored(db: TradingDatabase) -> list[str]:
    with db.unit_of_work(read_only=True) as uow:
        return list(uow.session.scalars(select(BankTransaction.hash)))  # type: ignore[call-overload]


@pytest.fixture
def app(settings: Settings) -> Iterator[bootstrap.App]:
    with bootstrap.build(settings, access=bootstrap.Access.SHARED, environ={}) as built:
        built.journal.add_bank_config(replace=False, amount_sign="credit_positive", **{
            "name": "plain", "date_column": "Date", "description_column": "Description",
            "amount_column": "Amount",
        })
        yield built


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "ofx"])
def test_import_memory_does_not_grow_with_the_statement(
    app: bootstrap.App, tmp_path: Path, kind: str
) -> None:
    small, large = 2 * BATCH, 20 * BATCH

    def statement(n: int) -> Path:
        first = 10 * large if n == small else 0  # no line of one file in the other
        if kind == "ofx":
            return write_ofx(tmp_path / f"{n}.ofx", n, first=first)
        return write_csv(tmp_path / f"{n}.csv", csv_lines(n, first=first))

    files = [statement(small), statement(large)]
    app.journal.import_bank(write_csv(tmp_path / "warm.csv", csv_lines(3)), "plain", "warm")
    peaks = []
    for path in files:
        tracemalloc.start()
        try:
            added, skipped, _ = app.journal.import_bank(path, "plain", kind)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert skipped == 0 and added > 0
    # Ten times the lines, the same batches in flight: the peak must not follow the file.
    assert peaks[1] < 2 * peaks[0], f"peak bytes {peaks[0]:,} -> {peaks[1]:,}"


def test_duplicates_are_found_across_batches_and_against_stored_rows(
    app: bootstrap.App, db: TradingDatabase, tmp_path: Path
) -> None:
    old = write_csv(tmp_path / "old.csv", csv_lines(BATCH // 2, first=5 * BATCH))
    assert app.journal.import_bank(old, "plain", "acc")[:2] == (BATCH // 2, 0)

    fresh = list(csv_lines(2 * BATCH))
    again = fresh[3]  # repeated two batches later: stored by this same transaction by then
    earlier = list(csv_lines(10, first=5 * BATCH))  # stored by the import above
    lines = [*fresh[:BATCH], *earlier, *fresh[BATCH:], again, again]
    path = write_csv(tmp_path / "new.csv", lines)
    assert app.journal.import_bank(path, "plain", "acc")[:2] == (2 * BATCH, 12)

    hashes = stored(db)
    assert len(hashes) == len(set(hashes)) == 2 * BATCH + BATCH // 2
    parsed = {r.hash for r in iter_csv(path, PLAIN, "acc")}
    assert parsed <= set(hashes)
    assert app.journal.import_bank(path, "plain", "acc")[:2] == (0, len(lines))


def test_a_bad_line_after_several_batches_stores_nothing(
    app: bootstrap.App, db: TradingDatabase, tmp_path: Path
) -> None:
    app.journal.import_bank(write_csv(tmp_path / "a.csv", csv_lines(5)), "plain", "acc")
    before = stored(db)
    lines = list(csv_lines(3 * BATCH, first=100))
    lines[int(2.5 * BATCH)] = "01/07/2024,BAD,12.3x\n"
    bad = write_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(InvalidInputError) as err:
        app.journal.import_bank(bad, "plain", "acc")
    assert str(err.value) == (
        f"{bad}: line {int(2.5 * BATCH) + 2}: column 'Amount': '12.3x' is not an amount"
    )
    assert stored(db) == before


def test_the_connection_gets_its_page_cache_back(db: TradingDatabase) -> None:
    def records(fail: bool) -> Iterator[BankTxnRecord]:
        day = date(2024, 7, 1)
        for i in range(BATCH + 1):
            amount = -(i + 1) * Decimal("0.01")
            yield BankTxnRecord("a", day, amount, f"x{i}", None, None,
                                txn_hash("a", day, amount, f"x{i}", None), i + 2)
        if fail:
            raise InvalidInputError("s.csv: line 9: bad")

    now = datetime(2024, 7, 2, tzinfo=UTC)
    with db.unit_of_work() as uow:
        size = uow.session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one()
        assert uow.bank.add_records(records(False), now) == (BATCH + 1, 0)
        assert uow.session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one() == size
    with pytest.raises(InvalidInputError), db.unit_of_work() as uow:
        try:
            uow.bank.add_records(records(True), now)
        finally:
            after = uow.session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one()
            assert after == size
