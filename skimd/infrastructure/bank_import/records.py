"""The parsed form of one bank statement line, and the hash that deduplicates imports."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

HASH_VERSION = "v1"
"""Prefixed to the hashed text so a future change of normalisation cannot collide."""


@dataclass(frozen=True, slots=True)
class BankTxnRecord:
    """One statement line, ready for ``bank_transactions``.

    ``amount`` is signed from the account holder's view: money in > 0, money out < 0.
    ``reference`` is the bank's id for the line (OFX FITID; a CSV reference column) or None;
    ``balance`` the running balance when the statement gives one. ``kind`` is the OFX
    TRNTYPE (None for CSV), ``currency`` the statement's currency when it states one.
    ``line`` is where the line starts in the source file (1-based), for messages only.
    """

    account: str
    posted_on: date
    amount: Decimal
    description: str
    reference: str | None
    balance: Decimal | None
    hash: str
    line: int
    kind: str | None = None
    currency: str | None = None


def txn_hash(
    account: str, posted_on: date, amount: Decimal, description: str, reference: str | None
) -> str:
    """sha256 hex of the normalised (account, date, amount, description, reference).

    Normalised so the same line exported twice hashes the same: surrounding and repeated
    whitespace collapsed, case folded, the amount written without trailing zeros
    (``-12.5`` == ``-12.50``), an absent reference the same as an empty one. Two genuinely
    identical lines (same day, amount, text and no reference) collide by design: statements
    cannot tell them apart either.
    """
    parts = [
        HASH_VERSION,
        _norm(account),
        posted_on.isoformat(),
        _amount(amount),
        _norm(description),
        _norm(reference or ""),
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def split_duplicates(
    records: Iterable[BankTxnRecord],
) -> tuple[list[BankTxnRecord], list[BankTxnRecord]]:
    """(first occurrence of each hash, later repeats), both in input order."""
    seen: set[str] = set()
    unique: list[BankTxnRecord] = []
    repeats: list[BankTxnRecord] = []
    for rec in records:
        (repeats if rec.hash in seen else unique).append(rec)
        seen.add(rec.hash)
    return unique, repeats


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _amount(amount: Decimal) -> str:
    if amount == 0:
        return "0"
    return format(amount.normalize(), "f")
