"""``skimd journal``'s reads and imports over the trading database.

Listings and exports use a read-only unit of work (never the write lock: safe while the
daemon runs). A bank statement is imported in ONE unit of work: a bad line fails the whole
import with the file and line number and nothing is written; lines already stored, or
repeated in the file, are skipped by hash. The statement is streamed (read, checked and
inserted in batches inside that one unit of work).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from skimd.clock import Clock
from skimd.domain.preferences import BANK_CURRENCY
from skimd.errors import InvalidInputError

from .factory import TradingDatabase
from .report_store import list_round_trips, list_trades

TRADE_COLUMNS = (
    "id",
    "exec_id",
    "account",
    "ticker",
    "conid",
    "side",
    "qty",
    "price",
    "commission",
    "currency",
    "executed_at",
    "round_trip_id",
    "client_order_id",
)
ROUND_TRIP_COLUMNS = (
    "id",
    "account",
    "ticker",
    "conid",
    "status",
    "qty",
    "entry_avg",
    "exit_avg",
    "gross_pnl",
    "fees",
    "net_pnl",
    "opened_at",
    "closed_at",
    "holding_seconds",
    "trades",
    "setup_quality",
    "execution_quality",
    "followed_plan",
    "emotional_state",
    "lessons_learned",
    "tags",
)


class JournalAdmin:
    def __init__(self, db: TradingDatabase, clock: Clock, zone: ZoneInfo) -> None:
        self._db = db
        self._clock = clock
        self._zone = zone

    # -- listings --------------------------------------------------------------------------

    def trades(self, date_from: date | None, date_to: date | None) -> list[dict[str, Any]]:
        """Executions between two market-zone dates, both inclusive (either optional)."""
        if date_from and date_to and date_from > date_to:
            raise InvalidInputError(f"--from {date_from} is after --to {date_to}")
        start = None if date_from is None else self._local_start(date_from)
        end = None if date_to is None else self._local_start(date_to + timedelta(days=1))
        with self._db.unit_of_work(read_only=True) as uow:
            return [t.as_dict() for t in list_trades(uow, start, end)]

    def round_trips(self, status: str | None) -> list[dict[str, Any]]:
        """Round trips (``status`` open/closed, or all), oldest opened first."""
        with self._db.unit_of_work(read_only=True) as uow:
            return [r.as_dict() for r in list_round_trips(uow, status)]

    def export(self, what: str) -> tuple[list[dict[str, Any]], Sequence[str]]:
        """Rows and CSV columns of ``trades`` or ``round-trips``."""
        if what == "trades":
            return self.trades(None, None), TRADE_COLUMNS
        rows = [{**r, "tags": ";".join(r["tags"])} for r in self.round_trips(None)]
        return rows, ROUND_TRIP_COLUMNS

    def _local_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self._zone)

    # -- bank statements -------------------------------------------------------------------

    def import_bank(self, path: Path, bank: str, account: str) -> tuple[int, int, str]:
        """Import a CSV (read with bank import config ``bank``) or OFX statement; returns
        ``(added, skipped duplicates, batch id)``; :meth:`undo_bank_import` takes the batch
        id back out. Lines whose statement or config names no currency get the
        ``bank.currency`` preference's.

        Streamed: the file is read, validated and inserted a batch at a time inside ONE
        unit of work, so memory does not grow with the file and a bad line anywhere rolls
        back every line before it. The write lock is held while the file is read (a
        1M-line CSV takes about 45 s): a very large import beside the running daemon makes
        the daemon's writes wait, and fail once they wait longer than ``busy_timeout_ms``.
        """
        from skimd.infrastructure.bank_import import CsvImportConfig, is_ofx_file, iter_statement

        is_ofx = is_ofx_file(path)
        with self._db.unit_of_work(read_only=True) as uow:
            row = uow.bank_import_configs.by_name(bank)
            config = None if row is None else CsvImportConfig.from_row(row)
            config_id = None if row is None else row.id
            fallback_currency = uow.settings.preference(BANK_CURRENCY)
        if config is None and not is_ofx:
            raise InvalidInputError(
                f"{path}: a CSV statement needs a bank import config and there is none named "
                f"{bank!r}; add one with `skimd journal bank-config add {bank} ...`"
            )
        records = iter_statement(path, account, None if is_ofx else config)
        currency = (config.currency if config is not None else None) or fallback_currency
        now = self._clock.now()
        batch = f"{now.astimezone(self._zone):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        with self._db.unit_of_work() as uow:  # one unit of work: the whole file or nothing
            added, skipped = uow.bank.add_records(
                records, now, import_config_id=config_id, currency=currency,
                source="ofx" if is_ofx else "csv", batch_id=batch,
            )
        return added, skipped, batch

    def undo_bank_import(self, batch: str) -> int:
        """Delete every line import ``batch`` stored (one unit of work); returns how many.
        An unknown batch (or one whose lines are gone) is refused by name."""
        with self._db.unit_of_work() as uow:
            removed = uow.bank.delete_batch(batch)
            if not removed:
                raise InvalidInputError(
                    f"import batch {batch!r}: no bank lines carry it (nothing to undo)"
                )
        return removed

    def add_bank_config(self, *, replace: bool, **options: Any) -> bool:
        """Store a CSV bank import config (validated first); True when one was replaced.

        ``options`` are :class:`~skimd.infrastructure.bank_import.CsvImportConfig`'s fields
        (``amount_sign`` as its text value); an existing name needs ``replace``."""
        from skimd.infrastructure.bank_import import AmountSign, CsvImportConfig
        from skimd.infrastructure.database.tables import BankImportConfig

        options["amount_sign"] = AmountSign(options["amount_sign"])
        config = CsvImportConfig(**options)  # validates the combination before storing
        try:
            "".encode(config.encoding)
        except LookupError as exc:
            raise InvalidInputError(
                f"--encoding: unknown text encoding {config.encoding!r}"
            ) from exc
        values = {f.name: getattr(config, f.name) for f in fields(config)}
        values["amount_column"] = config.amount_column or ""  # NOT NULL: "" = unused
        values["amount_sign"] = str(config.amount_sign)
        with self._db.unit_of_work() as uow:
            existing = uow.bank_import_configs.by_name(config.name)
            if existing is not None and not replace:
                raise InvalidInputError(
                    f"bank import config {config.name!r} exists; use --replace to overwrite it"
                )
            if existing is None:
                uow.bank_import_configs.add(
                    BankImportConfig(**values, created_at=self._clock.now())
                )
                return False
            for key, value in values.items():
                setattr(existing, key, value)
            uow.bank_import_configs.add(existing)
            return True

    def bank_configs(self) -> list[dict[str, Any]]:
        """Every CSV bank import config, as plain data."""
        from skimd.infrastructure.bank_import import CsvImportConfig

        with self._db.unit_of_work(read_only=True) as uow:
            configs = [CsvImportConfig.from_row(r) for r in uow.bank_import_configs.list_all()]
        return [
            {**{f.name: getattr(c, f.name) for f in fields(c)}, "amount_sign": str(c.amount_sign)}
            for c in configs
        ]
