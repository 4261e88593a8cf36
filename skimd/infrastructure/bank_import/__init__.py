"""Bank statement import: CSV (per a bank import config) and OFX 1.x/2.x into
:class:`BankTxnRecord` lines with a stable dedup ``hash``.

The ``iter_*`` readers stream: they read the file in chunks and yield lines as they go, so
memory does not grow with the statement and time grows linearly with it. A bad line raises
:class:`~skimd.errors.InvalidInputError` naming the file, the line number and the field when
the iteration reaches it, so a caller that stores lines as they come does it inside ONE
transaction (``JournalAdmin.import_bank``) and a bad line leaves nothing stored. The
``parse_*`` functions are the same as lists: every line of the file or the error.

Amounts are bounded to what a bank statement can hold (12 digits before the decimal point,
4 after; see :mod:`._text`). Readers return duplicates as they are (same ``hash``); skipping
lines already stored, or earlier in the same file, is the caller's
(``BankTransactionRepository.add_records``); :func:`split_duplicates` helps with a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from skimd.errors import InvalidInputError

from ._text import read_head
from .csv_format import AmountSign, CsvImportConfig, iter_csv, parse_csv, parse_csv_text
from .ofx_format import iter_ofx, looks_like_ofx, parse_ofx, parse_ofx_text
from .records import HASH_VERSION, BankTxnRecord, split_duplicates, txn_hash

__all__ = [
    "HASH_VERSION",
    "AmountSign",
    "BankTxnRecord",
    "CsvImportConfig",
    "is_ofx_file",
    "iter_csv",
    "iter_ofx",
    "iter_statement",
    "parse_csv",
    "parse_csv_text",
    "parse_ofx",
    "parse_ofx_text",
    "parse_statement",
    "split_duplicates",
    "txn_hash",
]


def is_ofx_file(path: Path) -> bool:
    """Whether the file says it is OFX (reads its first bytes only)."""
    return looks_like_ofx(read_head(path))


def iter_statement(
    path: Path, account: str, config: CsvImportConfig | None = None
) -> Iterator[BankTxnRecord]:
    """OFX when the file says so, else CSV read with ``config`` (required for CSV); streamed
    as :func:`iter_csv` and :func:`iter_ofx` are."""
    if is_ofx_file(path):
        return iter_ofx(path, account)
    if config is None:
        raise InvalidInputError(f"{path}: not OFX, and no bank import config to read it as CSV")
    return iter_csv(path, config, account)


def parse_statement(
    path: Path, account: str, config: CsvImportConfig | None = None
) -> list[BankTxnRecord]:
    """:func:`iter_statement` as a list: every line, or InvalidInputError."""
    return list(iter_statement(path, account, config))
