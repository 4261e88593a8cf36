"""What an operator can do to the running daemon's trading (the control channel's flatten,
pause, resume), and the journal of every control action.

Every action is one unit of work that journals it (who: the peer's uid and user name;
what; when, from the injected clock) and queues one ``control_action`` alert with it, so
the trader hears of it exactly when it commits; a refused request (an unknown ticker, a
resume of a ticker not paused) raises :class:`~skimd.errors.OperatorRequestError` and
writes nothing.

Flatten. The request is recorded per position first (``flatten_requests``), in the
action's unit of work; then, if the market is open, the position is flattened at once by
:meth:`~skimd.services.trading.positions.PositionManager.exit_now` under the lock the
order jobs take: the same exactly-once path the end-of-day flatten uses (resting stop
confirmed cancelled, then a market sell whose intent is committed under a deterministic
client order id before it is placed; a refusal puts the resting stop back at once), as an
exit of its own purpose (``manual``: client order id ``SK<day>-<TICKER>-M<position>.<n>``,
booked as a manual exit). What
cannot go out now (the market is closed, the stop's cancel is not confirmed yet, a
refusal's back-off, the broker not answering) is left to the watch, which keeps
flattening a requested position on every poll until it is closed. A second flatten of a
position finds its working exit and sends nothing ("already exiting", same client order
id). A position paused after a quantity mismatch is not flattened (its size at the broker
is not known): the line says so.

Pause. A paused ticker gets no new entry and no stop moves (ratchet, trail); its resting
stop stays at the broker and the software stop still guards it. Pausing a paused ticker
keeps the first pause (and says whose it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from skimd.domain.alerts import ControlAction
from skimd.domain.calendar import MarketSession
from skimd.domain.control import (
    ControlRecord,
    ExitNow,
    FlattenRequest,
    TickerPause,
    operator_ticker,
)
from skimd.domain.protection import COVER_WORDS, SELL_WORDS
from skimd.domain.trading import PositionRecord
from skimd.errors import BrokerAuthError, OperatorRequestError, TransientError
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.day import TradingDay

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Operator:
    """Who asks: the peer's uid (``SO_PEERCRED``) and its user name (``str(uid)`` when
    the name is unknown)."""

    uid: int
    name: str  # the user name, or str(uid) when unknown


class OperatorActions:
    """The control channel's trading operations on one daemon's trading day."""

    def __init__(self, day: TradingDay) -> None:
        self._day = day
        self._ctx = day.ctx

    # -- flatten ---------------------------------------------------------------------------

    async def flatten(self, who: Operator, tickers: Sequence[str] | None, reason: str) -> list[str]:
        """Exit ``tickers``' open positions now (None: every open position); one line per
        position saying what was sent (with its client order id) or why nothing was. A
        ticker with no open position is an error naming it, and nothing is done."""
        ctx = self._ctx
        now = ctx.now()
        why = reason.strip() or "no reason given"
        with ctx.store.transaction() as tx:
            held = {p.ticker: p for p in tx.open_positions() if p.has_shares}
            if tickers is None:
                targets = [held[t] for t in sorted(held)]
            else:
                wanted = list(dict.fromkeys(operator_ticker(t) for t in tickers))
                if not wanted:
                    raise OperatorRequestError("no ticker given to flatten")
                missing = [t for t in wanted if t not in held]
                if missing:
                    raise OperatorRequestError(f"no open position in {', '.join(missing)}")
                targets = [held[t] for t in wanted]
            for p in targets:
                if _flattenable(p):
                    assert p.id is not None
                    tx.request_flatten(FlattenRequest(p.id, p.ticker, now, who.uid, who.name, why))
            names = ", ".join(p.ticker for p in targets) or "nothing open"
            scope = "all open positions: " if tickers is None else ""
            self._journal(tx, who, "flatten", f"{scope}{names} ({why})", now)
        log.warning("operator flatten", by=who.name, uid=who.uid, tickers=names, reason=why)
        return await self._flatten_all(targets) if targets else []

    async def _flatten_all(self, targets: list[PositionRecord]) -> list[str]:
        ctx = self._ctx
        session = ctx.session()
        if session is None or not session.is_open(ctx.now()):
            return [
                _unflattenable(p)
                or f"{p.ticker}: flatten requested; the market is closed, the watch sells "
                f"{p.qty} at market at the next session's first poll"
                for p in targets
            ]
        lines: list[str] = []
        try:
            async with self._day.exclusive():
                for p in targets:
                    lines.append(_unflattenable(p) or await self._flatten_one(p, session))
        except (TransientError, BrokerAuthError) as exc:
            done = {line.split(":", 1)[0] for line in lines}
            lines += [
                _unflattenable(p)
                or f"{p.ticker}: the broker does not answer now ({exc}); the flatten request "
                "stands and the watch sends it when the broker is back"
                for p in targets
                if p.ticker not in done
            ]
        return lines

    async def _flatten_one(self, position: PositionRecord, session: MarketSession) -> str:
        assert position.id is not None
        with self._ctx.store.read() as tx:
            fresh = tx.position(position.id)
            intents = tx.intents_for_position(position.id)
        if fresh is None or not fresh.has_shares:
            return f"{position.ticker}: closed meanwhile; nothing to sell"
        done = await self._day.watch.positions.exit_now(fresh, intents, session)
        return self._say(fresh, done)

    def _say(self, position: PositionRecord, done: ExitNow) -> str:
        t = position.ticker
        order = done.order
        coid = "" if order is None else f" ({order.client_order_id})"
        if done.outcome == "sent" and order is not None:
            return f"{t}: flatten sent: sell {order.qty} at market{coid}"
        if done.outcome == "unknown" and order is not None:
            return (
                f"{t}: flatten sent: sell {order.qty} at market; the broker's answer was "
                f"lost, the order is settled by its id{coid}"
            )
        if done.outcome == "exiting":
            if order is None:
                return f"{t}: already exiting: {done.note}"
            left = order.qty - order.filled_qty
            rest = "" if left >= position.qty else "; the rest is flattened when it ends"
            words = SELL_WORDS[order.purpose]
            return f"{t}: already exiting: {words} working for {left}{coid}{rest}"
        if done.outcome == "refused":
            return (
                f"{t}: the broker REFUSED the flatten ({done.note}); protected by "
                f"{self._cover(done)}; the watch tries again after a back-off{coid}"
            )
        at = "" if done.retry_at is None else f" at {self._hhmmss(done.retry_at)}"
        return f"{t}: flatten waits: {done.note}; the watch sends it{at}{coid}"

    @staticmethod
    def _cover(done: ExitNow) -> str:
        return "?" if done.cover is None else COVER_WORDS[done.cover]

    def _hhmmss(self, when: datetime) -> str:
        return f"{when.astimezone(self._ctx.calendar.zone):%H:%M:%S}"

    # -- pause and resume ------------------------------------------------------------------

    def pause(self, who: Operator, ticker: str, reason: str) -> str:
        """Pause ``ticker`` (held or not): no new entry, no stop moves; idempotent."""
        t = operator_ticker(ticker)
        now = self._ctx.now()
        why = reason.strip() or "no reason given"
        asked = TickerPause(t, now, who.uid, who.name, why)
        with self._ctx.store.transaction() as tx:
            kept = tx.pause_ticker(asked)
            if kept == asked:
                line = (
                    f"{t} paused: no new entries and no stop moves until `skimd resume {t}`; "
                    "a held position keeps its resting stop and the software stop"
                )
            else:
                line = (
                    f"{t} already paused by {kept.name} at {self._hhmmss(kept.at)} ({kept.reason})"
                )
            again = "" if kept == asked else "; already paused"
            self._journal(tx, who, "pause", f"{t} ({why}){again}", now)
        log.warning("operator pause", ticker=t, by=who.name, uid=who.uid, reason=why)
        return line

    def resume(self, who: Operator, ticker: str) -> str:
        """Lift the pause of ``ticker``; a ticker not paused is an error naming it."""
        t = operator_ticker(ticker)
        now = self._ctx.now()
        with self._ctx.store.transaction() as tx:
            lifted = tx.resume_ticker(t)
            if lifted is None:
                raise OperatorRequestError(f"{t} is not paused")
            since = f"paused by {lifted.name} at {self._hhmmss(lifted.at)} ({lifted.reason})"
            self._journal(tx, who, "resume", f"{t} (was {since})", now)
        log.warning("operator resume", ticker=t, by=who.name, uid=who.uid)
        return f"{t} resumed: entries and stop moves allowed again (was {since})"

    # -- the journal -----------------------------------------------------------------------

    def record(self, who: Operator, action: str, detail: str, *, alert: bool = True) -> None:
        """Journal and alert a control action done elsewhere (a kill-switch change, a job
        run now, ...), in one unit of work. ``alert=False`` when the action raised its own
        alert naming who did it (the kill switch's lock and unlock): one message per action."""
        with self._ctx.store.transaction() as tx:
            self._journal(tx, who, action, detail, self._ctx.now(), alert=alert)

    def _journal(
        self, tx: TradingTx, who: Operator, action: str, detail: str, now: datetime,
        *, alert: bool = True,
    ) -> None:
        tx.record_control(ControlRecord(now, who.uid, who.name, action, detail))
        if alert:
            tx.alert(ControlAction(
                occurred_at=now, uid=who.uid, name=who.name, action=action, detail=detail
            ))


def _flattenable(position: PositionRecord) -> bool:
    return _unflattenable(position) is None


def _unflattenable(position: PositionRecord) -> str | None:
    """Why ``position`` is not flattened by skimd, as its line; None when it is."""
    if position.paused:
        return (
            f"{position.ticker}: NOT flattened: paused after a quantity mismatch with the "
            "broker (its size there is not known); flatten it at the broker"
        )
    if position.conid is None or position.id is None:
        return f"{position.ticker}: NOT flattened: no contract id known; flatten it at the broker"
    return None


__all__ = ["Operator", "OperatorActions"]
