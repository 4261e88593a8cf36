"""Bank statement import: CSV (per a bank import config) and OFX 1.x/2.x into
:class:`BankTxnRecord` lines with a stable dedup ``hash``.

Parsing is all-or-nothing: a function returns every line of the file or raises
:class:`~skimd.errors.InvalidInputError` naming the file, the line number and the field, so
a caller that writes only after a successful parse never writes half a statement. Parsers
return duplicates as they are (same ``hash``); skipping lines already stored is the
caller's job (``BankTransactionRepository.add_new``), :func:`split_duplicates` helps.
"""

from __future__ import annotations

from pathlib import Path

from skimd.errors import InvalidInputError

from ._text import read_bytes
from .csv_format import AmountSign, CsvImportConfig, parse_csv, parse_csv_text
from .ofx_format import looks_like_ofx, parse_ofx, parse_ofx_text
from .records import HASH_VERSION, BankTxnRecord, split_duplicates, txn_hash

__all__ = [
    "HASH_VERSION",
    "AmountSign",
    "BankTxnRecord",
    "CsvImportConfig",
    "parse_csv",
    "parse_csv_text",
    "parse_ofx",
    "parse_ofx_text",
    "parse_statement",
    "split_duplicates",
    "txn_hash",
]


def parse_statement(
    path: Path, account: str, config: CsvImportConfig | None = None
) -> list[BankTxnRecord]:
    """OFX when the file says so, else CSV read with ``config`` (required for CSV)."""
    if looks_like_ofx(read_bytes(path)):
        return parse_ofx(path, account)
    if config is None:
        raise InvalidInputError(f"{path}: not OFX, and no bank import config to read it as CSV")
    return parse_csv(path, config, account)
