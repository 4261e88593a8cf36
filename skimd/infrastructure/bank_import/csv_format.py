"""Bank statements in CSV, read as a :class:`CsvImportConfig` describes them."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from skimd.errors import InvalidInputError

from ._text import parse_amount, read_chunks, shown, split_lines
from .records import BankTxnRecord, txn_hash


class AmountSign(StrEnum):
    """How the single amount column is signed in the bank's export."""

    CREDIT_POSITIVE = "credit_positive"  # money in is positive (most banks)
    DEBIT_POSITIVE = "debit_positive"  # money out is positive; amounts are negated


@dataclass(frozen=True, slots=True)
class CsvImportConfig:
    """How one bank writes its CSV statements (mirrors ``bank_import_configs``).

    The amount comes either from ``amount_column`` (signed per ``amount_sign``) or from
    ``debit_column``/``credit_column`` (magnitudes: a debit is money out whatever its
    sign in the file). Columns are header names; with ``has_header=False`` they are
    0-based column numbers written as text ("0", "3"). ``skip_rows`` physical lines (a
    bank's preamble) are skipped before the header. ``date_format`` is ``strptime``'s.
    Invalid combinations raise InvalidInputError naming the config.
    """

    name: str
    date_column: str
    description_column: str
    amount_column: str | None = None
    debit_column: str | None = None
    credit_column: str | None = None
    reference_column: str | None = None
    balance_column: str | None = None
    date_format: str = "%d/%m/%Y"
    delimiter: str = ","
    skip_rows: int = 0
    has_header: bool = True
    amount_sign: AmountSign = AmountSign.CREDIT_POSITIVE
    decimal_separator: str = "."
    thousands_separator: str = ","
    encoding: str = "utf-8-sig"
    currency: str | None = None

    def __post_init__(self) -> None:
        where = f"bank import config {self.name!r}"
        for name in ("date_column", "description_column"):
            if not getattr(self, name):
                raise InvalidInputError(f"{where}: {name} is required")
        split = self.debit_column is not None or self.credit_column is not None
        if (self.amount_column is not None) == split:
            raise InvalidInputError(
                f"{where}: give either amount_column or debit_column/credit_column"
            )
        if len(self.delimiter) != 1:
            raise InvalidInputError(f"{where}: delimiter must be one character")
        if self.skip_rows < 0:
            raise InvalidInputError(f"{where}: skip_rows must not be negative")
        if self.decimal_separator == self.thousands_separator:
            raise InvalidInputError(f"{where}: decimal and thousands separators are the same")
        if not self.has_header:
            for name, column in self.columns().items():
                if not column.isdigit():
                    raise InvalidInputError(
                        f"{where}: {name} must be a column number without a header row"
                    )

    def columns(self) -> dict[str, str]:
        """Configured field name -> column, for the fields in use."""
        fields = {
            "date_column": self.date_column,
            "description_column": self.description_column,
            "amount_column": self.amount_column,
            "debit_column": self.debit_column,
            "credit_column": self.credit_column,
            "reference_column": self.reference_column,
            "balance_column": self.balance_column,
        }
        return {k: v for k, v in fields.items() if v is not None}

    @classmethod
    def from_row(cls, row: Any) -> CsvImportConfig:
        """From a ``bank_import_configs`` row (or anything with its attributes). Columns
        the table does not have yet take their defaults; an empty text column means unused.
        """
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = getattr(row, name, None)
            if value is not None and value != "":
                values[name] = value
        if "amount_sign" in values:
            try:
                values["amount_sign"] = AmountSign(values["amount_sign"])
            except ValueError as exc:
                raise InvalidInputError(
                    f"bank import config {values.get('name')!r}: unknown amount_sign "
                    f"{values['amount_sign']!r}"
                ) from exc
        values.setdefault("date_column", "")
        values.setdefault("description_column", "")
        return cls(**values)


def iter_csv(path: Path, config: CsvImportConfig, account: str) -> Iterator[BankTxnRecord]:
    """Every line of a CSV statement, in file order, read as the iteration goes (memory does
    not grow with the file).

    Blank lines are skipped. A bad line raises InvalidInputError naming the file, its line
    number and the column, when the iteration reaches it: a caller that stores lines as they
    come must do so in one transaction to store nothing of a bad file. A line with more
    non-empty fields than the header is bad too (a value holding an unquoted delimiter, such
    as ``1,234.56``, would otherwise shift the columns). Duplicate lines are returned (same
    ``hash``); the caller skips known hashes.
    """
    source = str(path)
    return _records(read_chunks(path, config.encoding, source), config, account, source)


def parse_csv(path: Path, config: CsvImportConfig, account: str) -> list[BankTxnRecord]:
    """:func:`iter_csv` as a list: every line, or InvalidInputError (nothing partial)."""
    return list(iter_csv(path, config, account))


def parse_csv_text(
    text: str, config: CsvImportConfig, account: str, *, source: str = "<csv>"
) -> list[BankTxnRecord]:
    """:func:`parse_csv` on text already read; ``source`` names it in errors."""
    return list(_records((text,), config, account, source))


def _records(
    chunks: Iterable[str], config: CsvImportConfig, account: str, source: str
) -> Iterator[BankTxnRecord]:
    lines = split_lines(chunks, source)
    skipped = 0
    while skipped < config.skip_rows and next(lines, None) is not None:
        skipped += 1
    reader = csv.reader(lines, delimiter=config.delimiter, strict=True)
    index: Mapping[str, int] | None = None if config.has_header else _numbered(config)
    width: int | None = None  # fields in the header row
    last_line = 0
    try:
        for row in reader:
            line = skipped + last_line + 1
            last_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if index is None:
                index, width = _header(row, config, f"{source}: line {line}"), len(row)
                continue
            if width is not None and any(cell.strip() for cell in row[width:]):
                # Usually an unquoted "1,234.56" split in two: never guess which part is money.
                raise InvalidInputError(
                    f"{source}: line {line}: {len(row)} fields but the header has {width} "
                    "(an unquoted delimiter in a value?)"
                )
            yield _record(row, index, config, account, source, line)
    except csv.Error as exc:
        line = skipped + reader.line_num
        raise InvalidInputError(f"{source}: line {line}: unreadable CSV ({exc})") from exc
    if index is None and config.has_header:
        raise InvalidInputError(f"{source}: no header row found")


def _numbered(config: CsvImportConfig) -> dict[str, int]:
    return {column: int(column) for column in config.columns().values()}


def _header(row: Sequence[str], config: CsvImportConfig, where: str) -> dict[str, int]:
    """Column name -> position; exact names win, then case/space-insensitive matches."""
    exact = {cell: i for i, cell in reversed(list(enumerate(row)))}
    loose = {" ".join(cell.split()).casefold(): i for i, cell in reversed(list(enumerate(row)))}
    found: dict[str, int] = {}
    for field, column in config.columns().items():
        pos = exact.get(column, loose.get(" ".join(column.split()).casefold()))
        if pos is None:
            raise InvalidInputError(
                f"{where}: header has no column {column!r} ({field} of config {config.name!r})"
            )
        found[column] = pos
    return found


def _record(
    row: Sequence[str],
    index: Mapping[str, int],
    config: CsvImportConfig,
    account: str,
    source: str,
    line: int,
) -> BankTxnRecord:
    def cell(column: str | None) -> str:
        if column is None:
            return ""
        pos = index[column]
        if pos >= len(row):
            raise InvalidInputError(
                f"{source}: line {line}: column {column!r} is missing "
                f"(the line has {len(row)} fields)"
            )
        return row[pos].strip()

    def bad(column: str | None, reason: str) -> InvalidInputError:
        return InvalidInputError(f"{source}: line {line}: column {column!r}: {reason}")

    def amount_of(column: str | None) -> Decimal | None:
        raw = cell(column)
        if not raw:
            return None
        try:
            return parse_amount(raw, config.decimal_separator, config.thousands_separator)
        except ValueError as exc:
            raise bad(column, str(exc)) from exc

    raw_date = cell(config.date_column)
    try:
        tm = time.strptime(raw_date, config.date_format)
    except ValueError as exc:
        raise bad(
            config.date_column, f"{shown(raw_date)} is not a date like {config.date_format!r}"
        ) from exc
    posted_on = date(tm.tm_year, tm.tm_mon, tm.tm_mday)

    if config.amount_column is not None:
        amount = amount_of(config.amount_column)
        if amount is None:
            raise bad(config.amount_column, "is empty")
        if config.amount_sign is AmountSign.DEBIT_POSITIVE:
            amount = -amount if amount else amount
    else:
        debit = amount_of(config.debit_column)
        credit = amount_of(config.credit_column)
        if debit and credit:
            raise bad(
                f"{config.debit_column}/{config.credit_column}", "both debit and credit given"
            )
        if debit is None and credit is None:
            raise bad(f"{config.debit_column}/{config.credit_column}", "no amount given")
        amount = abs(credit) if credit else -abs(debit) if debit else Decimal(0)

    description = cell(config.description_column)
    reference = cell(config.reference_column) or None
    balance = amount_of(config.balance_column)
    return BankTxnRecord(
        account=account,
        posted_on=posted_on,
        amount=amount,
        description=description,
        reference=reference,
        balance=balance,
        hash=txn_hash(account, posted_on, amount, description, reference),
        line=line,
        currency=config.currency,
    )
