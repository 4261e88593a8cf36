"""The bank-statement reads behind ``skimd web``'s Bank page: the import batches (what
``skimd journal import-bank --undo BATCH`` takes back) and one page of statement lines,
counted and limited in SQL. Rows are plain dicts (exact decimals as text, dates ISO).
Read-only units of work: safe beside the daemon; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from .session import UnitOfWork
from .tables import BankTransaction

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlBankReads:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def batches(self) -> list[dict[str, Any]]:
        """One row per import batch, the latest imported first: ``batch`` (None for lines
        imported before batches were kept), ``source``, ``accounts``, ``lines``, the first
        and last statement dates and when it was imported."""
        t = BankTransaction
        stmt = (
            select(
                col(t.import_batch_id),
                func.min(col(t.source)),
                func.group_concat(func.distinct(col(t.account))),
                func.count(),
                func.min(col(t.posted_on)),
                func.max(col(t.posted_on)),
                func.max(col(t.imported_at)),
            )
            .group_by(col(t.import_batch_id))
            .order_by(func.max(col(t.imported_at)).desc())
        )
        with self._uow(read_only=True) as uow:
            found = uow.session.execute(stmt).all()
        return [
            {"batch": batch, "source": source, "accounts": accounts or "", "lines": int(n),
             "first": first.isoformat(), "last": last.isoformat(),
             "imported_at": imported.isoformat()}
            for batch, source, accounts, n, first, last, imported in found
        ]

    def lines(
        self, batch: str | None, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Statement lines (of import ``batch``, or all), the latest dated first: one page
        and how many match in all."""
        where = [] if batch is None else [col(BankTransaction.import_batch_id) == batch]
        with self._uow(read_only=True) as uow:
            counted = select(func.count(col(BankTransaction.id))).where(*where)
            total = int(uow.session.scalar(counted) or 0)
            stmt = (
                select(BankTransaction)
                .where(*where)
                .order_by(col(BankTransaction.posted_on).desc(), col(BankTransaction.id).desc())
                .limit(limit)
                .offset(offset)
            )
            rows = [_line(b) for b in uow.session.scalars(stmt)]
        return rows, total


def _line(b: BankTransaction) -> dict[str, Any]:
    return {
        "id": b.id, "account": b.account, "posted_on": b.posted_on.isoformat(),
        "post_date": None if b.post_date is None else b.post_date.isoformat(),
        "amount": str(b.amount), "currency": b.currency, "description": b.description,
        "reference": b.reference, "balance": None if b.balance is None else str(b.balance),
        "category": b.category, "source": b.source, "batch": b.import_batch_id,
    }
