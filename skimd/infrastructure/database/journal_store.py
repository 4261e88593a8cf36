"""The journal's store (:mod:`skimd.services.ports.journal`): the trading store's unit of
work plus the journal tables, so a sync writes positions, trades, round trips and alerts in
one transaction.

A trade's ``ticker`` column names what was traded: the share code for shares; for an option
its contract's :attr:`~skimd.domain.orders.OptionLeg.code` (``"BHP 2026-12-24 45 C x100"``);
for an option whose contract is unknown, or any other security type, ``"BHP OPT#<conid>"``.
So options never mix with the shares of their underlying (``fills_for("BHP")`` and the
round trips built from it stay shares only), and a stored fill reads back with its
``sec_type`` and contract.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import delete, insert, select
from sqlmodel import col

from skimd.domain.excursions import Excursion, percent_of_entry
from skimd.domain.journal import RoundTripView, ledger_entries
from skimd.domain.mistakes import MistakeCode, MistakeFinding
from skimd.domain.option_payoff import expiry_payoff
from skimd.domain.options import OptionsStrategyView, StrategyLeg
from skimd.domain.orders import OPTION, STOCK, Fill, OptionLeg, Side
from skimd.services.ports.journal import StoredRoundTrip

from .session import UnitOfWork
from .tables import (
    Account,
    BalanceSnapshot,
    BrokerConfig,
    ExcursionMetric,
    LedgerEntry,
    MistakeEntry,
    OptionsStrategy,
    RoundTrip,
    Trade,
    Watchlist,
    WatchlistItem,
)
from .trading_store import SqlTradingStore, SqlTradingTx


class SqlJournalStore(SqlTradingStore):
    """Implements both TradingStore and JournalStore (one database, one unit of work)."""

    def _tx(self, uow: UnitOfWork) -> SqlJournalTx:
        return SqlJournalTx(uow)

    @contextmanager
    def transaction(self) -> Iterator[SqlJournalTx]:
        with super().transaction() as tx:
            assert isinstance(tx, SqlJournalTx)
            yield tx

    @contextmanager
    def read(self) -> Iterator[SqlJournalTx]:
        with super().read() as tx:
            assert isinstance(tx, SqlJournalTx)
            yield tx


class SqlJournalTx(SqlTradingTx):
    # -- executions ------------------------------------------------------------------------

    def known_exec_ids(self, exec_ids: Sequence[str]) -> set[str]:
        if not exec_ids:
            return set()
        stmt = select(col(Trade.exec_id)).where(col(Trade.exec_id).in_(list(exec_ids)))
        return set(self._session.scalars(stmt))

    def add_fills(self, fills: Sequence[Fill], at: dt.datetime) -> list[Fill]:
        known = self.known_exec_ids([f.exec_id for f in fills])
        fresh: dict[str, Fill] = {}
        for fill in fills:
            if fill.exec_id not in known:
                fresh.setdefault(fill.exec_id, fill)
        if not fresh:
            return []
        self._session.execute(insert(Trade), [_trade_row(f) for f in fresh.values()])
        ids = {
            exec_id: trade_id
            for exec_id, trade_id in self._session.execute(
                select(col(Trade.exec_id), col(Trade.id)).where(col(Trade.exec_id).in_(list(fresh)))
            )
        }
        ledger = [
            {
                "account": line.account,
                "trade_id": ids.get(line.exec_id),
                "kind": line.kind.value,
                "amount": line.amount,
                "currency": "AUD",
                "occurred_at": line.occurred_at,
                "description": line.description,
            }
            for fill in fresh.values()
            for line in ledger_entries(fill)
        ]
        if ledger:
            self._session.execute(insert(LedgerEntry), ledger)
        return list(fresh.values())

    def fills_for(self, ticker: str) -> list[Fill]:
        stmt = (
            select(Trade)
            .where(col(Trade.ticker) == ticker)
            .order_by(col(Trade.executed_at), col(Trade.exec_id))
        )
        return [_fill(t) for t in self._session.scalars(stmt)]

    def option_fills_for(self, underlying: str) -> list[Fill]:
        stmt = (
            select(Trade)
            .where(col(Trade.ticker).startswith(f"{underlying} ", autoescape=True))
            .order_by(col(Trade.executed_at), col(Trade.exec_id))
        )
        fills = (_fill(t) for t in self._session.scalars(stmt))
        return [f for f in fills if f.option is not None and f.option.underlying == underlying]

    def fills_between(self, start: dt.datetime, end: dt.datetime) -> list[Fill]:
        return [_fill(t) for t in self._uow.trades.list_between(start, end)]

    def net_executed(self) -> dict[str, int]:
        """Shares only (option contracts are not positions the reconciliation compares)."""
        net: dict[str, int] = {}
        for ticker, side, qty in self._session.execute(
            select(col(Trade.ticker), col(Trade.side), col(Trade.qty))
        ):
            if " " in ticker:  # an option contract's code (see the module docstring)
                continue
            sign = 1 if side == Side.BUY.value else -1
            net[ticker] = net.get(ticker, 0) + sign * int(qty)
        return net

    # -- round trips -----------------------------------------------------------------------

    def save_round_trips(self, views: Sequence[RoundTripView]) -> None:
        for view in views:
            first = self._session.scalars(
                select(Trade).where(col(Trade.exec_id) == view.key)
            ).first()
            row = None
            if first is not None and first.round_trip_id is not None:
                row = self._session.get(RoundTrip, first.round_trip_id)
            if row is None:
                row = RoundTrip(
                    ticker=view.ticker,
                    qty=Decimal(0),
                    entry_avg=Decimal(0),
                    opened_at=view.opened_at,
                )
            row.account = view.account
            row.ticker = view.ticker
            row.conid = view.conid
            row.status = view.status.value
            row.qty = Decimal(view.qty_bought)
            row.entry_avg = view.avg_entry_price
            row.exit_avg = view.avg_exit_price
            row.gross_pnl = view.realised_gross
            row.fees = view.commission
            row.net_pnl = view.realised_net
            row.opened_at = view.opened_at
            row.closed_at = view.closed_at
            self._session.add(row)
            self._session.flush()
            for trade in self._session.scalars(
                select(Trade).where(col(Trade.exec_id).in_(list(view.exec_ids)))
            ):
                trade.round_trip_id = row.id
            self._session.flush()

    def round_trips_closed_between(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[StoredRoundTrip]:
        stmt = select(RoundTrip).where(
            col(RoundTrip.closed_at) >= start, col(RoundTrip.closed_at) < end
        )
        return [self._stored(r) for r in self._session.scalars(stmt.order_by(col(RoundTrip.id)))]

    def round_trips_opened_between(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[StoredRoundTrip]:
        stmt = select(RoundTrip).where(
            col(RoundTrip.opened_at) >= start, col(RoundTrip.opened_at) < end
        )
        return [self._stored(r) for r in self._session.scalars(stmt.order_by(col(RoundTrip.id)))]

    def _stored(self, row: RoundTrip) -> StoredRoundTrip:
        assert row.id is not None
        exec_ids = tuple(
            self._session.scalars(
                select(col(Trade.exec_id))
                .where(col(Trade.round_trip_id) == row.id)
                .order_by(col(Trade.executed_at), col(Trade.exec_id))
            )
        )
        return StoredRoundTrip(
            id=row.id,
            ticker=row.ticker,
            status=row.status,
            qty=row.qty,
            entry_avg=row.entry_avg,
            exit_avg=row.exit_avg,
            net_pnl=row.net_pnl,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            exec_ids=exec_ids,
        )

    # -- options strategies ----------------------------------------------------------------

    def save_options_strategies(
        self, views: Sequence[OptionsStrategyView], at: dt.datetime
    ) -> None:
        """Upsert keyed by underlying, ``opened_at`` and the legs' contracts (right, strike,
        expiry, side, multiplier). A stored row of the same underlying and ``opened_at`` whose
        contracts are a subset of the view's is the same strategy seen before the rest of its
        opening ticket filled: it is updated, not duplicated (quantities and prices too).
        ``notes`` (the trader's) are kept. The table has no write timestamp, so ``at`` is not
        stored."""
        for view in views:
            legs = _legs_json(view.legs)
            identity = _legs_identity(legs) or []
            stmt = select(OptionsStrategy).where(
                col(OptionsStrategy.underlying) == view.underlying,
                col(OptionsStrategy.opened_at) == view.opened_at,
            )
            rows = list(self._session.scalars(stmt))
            stored = [(r, _legs_identity(r.legs)) for r in rows]
            row = next((r for r, ident in stored if ident == identity), None)
            if row is None:
                row = next(
                    (r for r, ident in stored if ident and set(ident) <= set(identity)), None
                )
            if row is None:
                row = OptionsStrategy(
                    name=view.name, underlying=view.underlying, opened_at=view.opened_at
                )
            row.name = view.name
            row.legs = legs
            row.status = view.status.value
            row.closed_at = view.closed_at
            profile = expiry_payoff(view.legs, view.net_premium)
            row.strategy_type = view.name
            row.net_debit_credit = view.net_premium
            row.max_profit = None if profile is None else profile.max_profit
            row.max_loss = None if profile is None else profile.max_loss
            row.breakevens = json.dumps(
                [] if profile is None else [str(b) for b in profile.breakevens]
            )
            self._uow.options.add(row)

    # -- accounts and balances -------------------------------------------------------------

    def save_balance(
        self,
        account: str,
        day: dt.date,
        cash: Decimal,
        equity: Decimal,
        currency: str,
        at: dt.datetime,
    ) -> None:
        self._uow.balances.upsert(
            BalanceSnapshot(
                account=account, date=day, cash=cash, equity=equity, currency=currency, taken_at=at
            )
        )

    def ensure_account(self, account_id: str, broker: str, currency: str, at: dt.datetime) -> None:
        if self._uow.accounts.by_account_id(account_id) is None:
            self._uow.accounts.add(
                Account(account_id=account_id, broker=broker, currency=currency, created_at=at)
            )

    def ensure_broker_config(
        self, broker: str, settlement_days: int, commission: str, hours: str, at: dt.datetime
    ) -> None:
        row = self._uow.broker_configs.for_broker(broker) or BrokerConfig(
            broker=broker, updated_at=at
        )
        if (row.settlement_days, row.commission_schedule, row.trading_hours) != (
            settlement_days,
            commission,
            hours,
        ):
            row.settlement_days = settlement_days
            row.commission_schedule = commission
            row.trading_hours = hours
            row.updated_at = at
            self._uow.broker_configs.add(row)

    # -- end of day ------------------------------------------------------------------------

    def save_excursion(
        self, exec_id: str, excursion: Excursion, at: dt.datetime, *, entry_price: Decimal,
        source: str,
    ) -> None:
        trade = self._uow.trades.get_by_exec_id(exec_id)
        if trade is None or trade.id is None:
            return
        self._uow.excursions.upsert(
            ExcursionMetric(
                trade_id=trade.id,
                mfe=excursion.mfe,
                mae=excursion.mae,
                bso=excursion.bso,
                computed_at=at,
                mfe_pct=percent_of_entry(excursion.mfe_per_share, entry_price),
                mae_pct=percent_of_entry(excursion.mae_per_share, entry_price),
                bso_pct=percent_of_entry(excursion.bso_per_share, entry_price),
                data_source=source,
            )
        )

    def save_watchlist(
        self, name: str, tickers: Sequence[tuple[str, str]], at: dt.datetime
    ) -> None:
        watchlist = self._uow.watchlists.by_name(name)
        if watchlist is None:
            watchlist = Watchlist(name=name, created_at=at, updated_at=at)
        watchlist.updated_at = at
        watchlist = self._uow.watchlists.add(watchlist)
        assert watchlist.id is not None
        self._session.execute(
            delete(WatchlistItem).where(col(WatchlistItem.watchlist_id) == watchlist.id)
        )
        for ticker, note in tickers:
            self._uow.watchlists.add_item(
                WatchlistItem(watchlist_id=watchlist.id, ticker=ticker, note=note, added_at=at)
            )

    def save_mistakes(
        self, round_trip_id: int, findings: Sequence[MistakeFinding], at: dt.datetime
    ) -> int:
        self._session.execute(  # the automatic findings only: the trader's own entries stay
            delete(MistakeEntry).where(
                col(MistakeEntry.round_trip_id) == round_trip_id,
                col(MistakeEntry.category).in_([str(c) for c in MistakeCode]),
            )
        )
        for finding in findings:
            self._uow.mistakes.add(
                MistakeEntry(
                    round_trip_id=round_trip_id,
                    category=finding.code.value,
                    note=finding.description,
                    cost=finding.cost,
                    created_at=at,
                )
            )
        return len(findings)


_OTHER = re.compile(r"^(?P<symbol>\S+) (?P<sec_type>[A-Z]+)#(?P<conid>\d+)$")


def _ticker(fill: Fill) -> str:
    """The ``ticker`` column of a fill (see the module docs)."""
    if fill.option is not None:
        return fill.option.code
    if fill.sec_type == STOCK:
        return fill.symbol
    return f"{fill.symbol} {fill.sec_type}#{fill.conid}"


def _security(ticker: str) -> tuple[str, str, OptionLeg | None]:
    """symbol, sec_type and contract of a ``ticker`` column (the inverse of :func:`_ticker`)."""
    leg = OptionLeg.from_code(ticker)
    if leg is not None:
        return leg.underlying, OPTION, leg
    other = _OTHER.match(ticker)
    if other is not None:
        return other["symbol"], other["sec_type"], None
    return ticker, STOCK, None


def _legs_json(legs: Sequence[StrategyLeg]) -> str:
    return json.dumps(
        [
            {
                "right": leg.right,
                "strike": str(leg.strike),
                "expiry": leg.expiry.isoformat(),
                "side": leg.side.value,
                "qty": leg.qty,
                "price": str(leg.price),
                "multiplier": leg.multiplier,
            }
            for leg in legs
        ],
        sort_keys=True,
        separators=(",", ":"),
    )


def _legs_identity(legs_json: str) -> list[tuple[str, Decimal, str, str, int]] | None:
    """The contracts of stored legs, to recognise a strategy whose quantities grew."""
    try:
        return [
            (
                str(g["right"]),
                Decimal(str(g["strike"])),
                str(g["expiry"]),
                str(g["side"]),
                int(g.get("multiplier", 100)),
            )
            for g in json.loads(legs_json)
        ]
    except (ValueError, TypeError, KeyError, ArithmeticError, AttributeError):
        return None


def _trade_row(fill: Fill) -> dict[str, object]:
    return {
        "exec_id": fill.exec_id,
        "account": fill.account,
        "ticker": _ticker(fill),
        "conid": fill.conid,
        "side": fill.side.value,
        "qty": Decimal(fill.qty),
        "price": fill.price,
        "commission": fill.commission,
        "currency": "AUD",
        "executed_at": fill.executed_at,
        "order_ref": fill.broker_order_id,
        "client_order_id": fill.client_order_id,
    }


def _fill(trade: Trade) -> Fill:
    symbol, sec_type, option = _security(trade.ticker)
    return Fill(
        exec_id=trade.exec_id,
        broker_order_id=trade.order_ref or "",
        client_order_id=trade.client_order_id,
        symbol=symbol,
        conid=trade.conid or 0,
        side=Side(trade.side),
        qty=int(trade.qty),
        price=trade.price,
        commission=trade.commission,
        executed_at=trade.executed_at,
        account=trade.account or "",
        sec_type=sec_type,
        option=option,
    )
