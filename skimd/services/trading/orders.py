"""The order desk: exactly-once placement, reconciliation by client order id, and fills
turned into positions.

Placing, following and settling are one state machine over the same intent records: every
path ends in ``_apply``, which hands new fill quantity to
:class:`~skimd.services.trading.fill_booking.FillBooking` (positions, plans, alerts).

Messages (one per decision, ``fill_booking``'s doc): an entry once it is settled, in the
unit of work that settles it (its first stop taken or refused by the broker; its fill with
resting stops off), an unfilled entry's end, each exit; placings and fills are journal
facts only, but a stop placed for a position entered on an earlier day is still told. Fees
come from the executions, read before such a unit of work (:mod:`.fees`).

Longer than 500 lines because it is one state machine over the intent records: placing,
following, settling and applying share the look-up state and must stay side by side.

Exactly once, in three steps:

1. The caller writes the intent (status ``pending``, a deterministic client order id) in a
   unit of work and commits. Nothing has been sent yet.
2. :meth:`OrderDesk.place` sends it with that client order id. The broker never creates a
   second order for an id it already has.
3. The outcome is written in a second unit of work. A crash between 1 and 2 leaves a
   ``pending`` intent; between 2 and 3 an order the database does not know about yet.
   :meth:`OrderDesk.reconcile` (at start-up, before any entry job) asks the broker for each
   open intent by client order id and adopts what it finds; a ``pending`` intent the broker
   does not show is placed again under the SAME id, so the worst case is still one order.

Broker lag. The broker's lists can miss an order for seconds after it was placed (IBKR), so
"not found" means "not known yet". :mod:`~skimd.services.trading.order_lookup` says how we
ask (by broker id, by client order id, then the executions; back-off 5, 10, 20, 40, then 60
s) and when an absence counts (a look-up that finds nothing ``ABSENT_AFTER_S`` = 30 s after
the order could last have reached the broker). What the desk does with that:

- Executions settle first: fills shown there for our client order id are booked at once,
  by refresh, settle, reconcile and cancel alike; such an order is never dropped.
- Until its absence counts, an intent keeps its open status (``pending``, ``unknown``,
  ``submitted``), so it still blocks a second order for the same decision (the position
  manager sees an open stop or exit; the candidate stays entered); a cancel returns it
  unconfirmed; nothing is dropped.
- A ``pending``/``unknown`` intent the broker does not show is sent again under the SAME
  id (once ``SETTLE_GRACE_S`` has passed: its own placing may still be answering). A broker
  that answers it already has that id (IBKR refuses the duplicate cOID while its lists lag)
  HAS the order: the intent becomes ``submitted`` without a broker id ("adopted"), is never
  sent again, rejected or dropped for absence, and is looked up until the broker shows it (a
  DAY one whose session closed is settled by its executions). Any other refusal of a
  re-send is held until the absence counts (the first send may still show up), then it is
  rejected and alerted like any refusal.
- Dropping (an entry when entries are closed or its breakout is stale, an exit whose
  position is gone, a DAY order of an earlier session) and cancelling an order we have no
  broker id for wait for the absence to count.
- An order we have a broker id for that the broker no longer shows: a DAY one whose session
  closed is settled by its executions; one of today's is dropped once its absence counts
  (asked over ``ABSENT_AFTER_S`` from the first miss); a GTC one is kept and asked about
  (never conclude a resting stop is gone: a second would follow).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import structlog

from skimd.domain.alerts import OrderPlaced, OrderRejected
from skimd.domain.orders import OrderRequest, OrderState, OrderStatus, OrderType, Side, TimeInForce
from skimd.domain.protection import Cover
from skimd.domain.trading import (
    CandidateMove,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
)
from skimd.errors import (
    BrokerUnavailableError,
    InvalidInputError,
    OrderRejectedError,
    RateLimitedError,
)
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext
from skimd.services.trading.fees import ANSWERED, OrderFees, fees_for, first_answer, opened_today
from skimd.services.trading.fill_booking import FillBooking
from skimd.services.trading.order_lookup import OrderLookup, adopted, says_duplicate

log = structlog.get_logger(__name__)

SETTLE_GRACE_S = 10.0  # a pending/unknown intent younger than this may still be in flight

_STATUS = {
    OrderStatus.PENDING_SUBMIT: IntentStatus.SUBMITTED,
    OrderStatus.SUBMITTED: IntentStatus.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED: IntentStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: IntentStatus.FILLED,
    OrderStatus.CANCELLED: IntentStatus.CANCELLED,
    OrderStatus.REJECTED: IntentStatus.REJECTED,
    OrderStatus.INACTIVE: IntentStatus.CANCELLED,
}


def request_for(intent: IntentRecord) -> OrderRequest:
    return OrderRequest(
        client_order_id=intent.client_order_id,
        symbol=intent.ticker,
        conid=intent.conid,
        side=Side(intent.side),
        qty=intent.qty,
        order_type=OrderType(intent.order_type),
        limit_price=intent.limit_price,
        stop_price=intent.stop_price,
        tif=TimeInForce(intent.tif),
    )


class OrderDesk:
    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx
        self.lookup = OrderLookup(ctx)
        self.booking = FillBooking(ctx)
        self._refused: dict[str, str] = {}  # client order id → why its re-send was refused

    # -- placing ---------------------------------------------------------------------------

    async def place(self, intent: IntentRecord, *, alert_refusal: bool = True) -> IntentRecord:
        """Send a committed ``pending`` intent and record the outcome (see module doc).

        A rejection is final and alerted (unless ``alert_refusal`` is False: the caller
        tells the trader another way, e.g. once for a run of retries); a timeout leaves the
        intent ``unknown`` for :meth:`reconcile`; a lost session propagates (the job fails
        and alerts) with the intent still ``pending``.
        """
        try:
            state = await self.ctx.broker.place_order(request_for(intent))
        except OrderRejectedError as exc:
            fees = await fees_for(self.ctx, intent, None) if alert_refusal else None
            return self._rejected(intent, str(exc), alert=alert_refusal, fees=fees)
        except (BrokerUnavailableError, RateLimitedError) as exc:
            with self.ctx.store.transaction() as tx:
                current = tx.intent(intent.client_order_id) or intent
                marked = replace(current, status=IntentStatus.UNKNOWN, reason=str(exc)[:200])
                saved = tx.save_intent(marked, self.ctx.now())
            log.warning("order outcome unknown", coid=intent.client_order_id, error=str(exc))
            return saved
        if state.status in (OrderStatus.REJECTED, OrderStatus.INACTIVE) and not state.filled_qty:
            reason = state.message or f"broker says {state.status.value}"
            fees = await fees_for(self.ctx, intent, None) if alert_refusal else None
            return self._rejected(intent, reason, alert=alert_refusal, fees=fees)
        # read after the order went out: a stop is never held back for its entry's fees
        fees = await fees_for(self.ctx, intent, state)
        with self.ctx.store.transaction() as tx:
            self._alert_placed(tx, intent, state)
            saved = self._apply(tx, intent.client_order_id, state, fees=fees)
        log.info(
            "order placed",
            coid=intent.client_order_id,
            broker_id=state.broker_order_id,
            status=saved.status.value,
        )
        return saved

    def _alert_placed(self, tx: TradingTx, intent: IntentRecord, state: OrderState) -> None:
        """Tell the trader a stop was placed for a position entered on an earlier day (a
        raised or restored stop; once, whoever finds out first). Every other placing is a
        journal fact only: its entry or exit message says what came of it."""
        if intent.purpose is not IntentPurpose.STOP or intent.position_id is None:
            return
        position = tx.position(intent.position_id)
        if position is None or opened_today(self.ctx, position.opened_at):
            return
        tx.alert(
            OrderPlaced(
                occurred_at=self.ctx.now(),
                symbol=intent.ticker,
                side=intent.side,
                quantity=intent.qty,
                client_order_id=intent.client_order_id,
                order_type=intent.order_type,
                limit_price=intent.limit_price,
                stop_price=intent.stop_price,
                broker_order_id=state.broker_order_id,
            ),
            dedup_key=f"placed:{intent.client_order_id}",
        )

    def _rejected(
        self,
        intent: IntentRecord,
        reason: str,
        *,
        alert: bool = True,
        fees: OrderFees | None = None,
    ) -> IntentRecord:
        """Record a refusal (alerted unless ``alert`` is False). A refused first stop
        settles its entry all the same: the software stop guards the shares meanwhile."""
        now = self.ctx.now()
        with self.ctx.store.transaction() as tx:
            current = tx.intent(intent.client_order_id) or intent
            saved = tx.save_intent(
                replace(current, status=IntentStatus.REJECTED, reason=reason[:200]), now
            )
            if intent.purpose is IntentPurpose.STOP:
                self.booking.settle_entry(tx, intent.position_id, Cover.SOFTWARE_STOP, fees, now)
            if intent.purpose is IntentPurpose.ENTRY and intent.candidate_id is not None:
                candidate = tx.candidate_by_id(intent.candidate_id)
                if candidate is not None and candidate.can(CandidateMove.ENTRY_REFUSED):
                    tx.save_candidate(candidate.entry_refused(), now)
            if alert:
                tx.alert(
                    OrderRejected(
                        occurred_at=now,
                        symbol=intent.ticker,
                        side=intent.side,
                        quantity=intent.qty,
                        client_order_id=intent.client_order_id,
                        reason=reason,
                    ),
                    dedup_key=f"rejected:{intent.client_order_id}",
                )
        log.warning("order rejected", coid=intent.client_order_id, reason=reason)
        return saved

    async def cancel(self, intent: IntentRecord, reason: str) -> IntentRecord:
        """Ask the broker to cancel and record the resulting state (a fill that raced the
        cancel is booked like any other fill).

        An order the broker does not show (yet) is not confirmed cancelled: the intent comes
        back still open and is looked up again (with back-off) at the next call, until the
        broker shows it or its absence counts (module doc)."""
        if not intent.status.is_open:
            return intent
        if intent.broker_order_id is not None:
            try:
                state = await self.ctx.broker.cancel_order(intent.broker_order_id)
            except InvalidInputError:  # the broker does not know that id now: look for it
                state = None
            if state is not None:
                return await self._record(intent, state, reason)
        if not self.lookup.due(intent):
            return intent
        found = await self.lookup.look(intent)
        if found is None:
            return self._cancel_unseen(intent, reason)
        if found.status.is_working:
            try:
                found = await self.ctx.broker.cancel_order(found.broker_order_id)
            except InvalidInputError:  # its answer lags: record what we found, ask again
                log.info(
                    "cancel sent; the broker does not show it yet", coid=intent.client_order_id
                )
        return await self._record(intent, found, reason)

    def _cancel_unseen(self, intent: IntentRecord, reason: str) -> IntentRecord:
        """Cancel an order the broker shows nowhere: only once its absence counts, and never
        an adopted one or a GTC order it gave us an id for (module doc)."""
        never_gone = adopted(intent) or (
            intent.broker_order_id is not None and intent.tif == TimeInForce.GTC.value
        )
        if never_gone or not self.lookup.absent(intent):
            log.warning(
                "cancel waits: the broker does not show the order", coid=intent.client_order_id
            )
            return intent
        return self._drop(intent, f"{reason}; the broker never showed it")

    async def _record(
        self, intent: IntentRecord, state: OrderState, reason: str | None = None
    ) -> IntentRecord:
        """Write the broker's ``state`` of ``intent`` (alerting "placed" the first time the
        broker shows an order we had no id for)."""
        fees = await fees_for(self.ctx, intent, state)
        with self.ctx.store.transaction() as tx:
            if intent.broker_order_id is None:
                self._alert_placed(tx, intent, state)
            return self._apply(tx, intent.client_order_id, state, reason=reason, fees=fees)

    # -- following orders ------------------------------------------------------------------

    async def refresh(
        self, intents: list[IntentRecord] | None = None, *, allow_entries: bool = False
    ) -> bool:
        """Bring every open intent up to date with the broker (fills → positions), and
        settle any left ``pending``/``unknown`` by a failed or interrupted placing (see
        :meth:`settle`); True when anything changed."""
        if intents is None:
            with self.ctx.store.read() as tx:
                intents = tx.open_intents()
        changed = False
        for intent in intents:
            if not intent.status.is_open:
                continue
            if intent.broker_order_id is None:
                changed = await self.settle(intent, allow_entries=allow_entries) or changed
                continue
            if not self.lookup.due(intent):
                continue
            state = await self.lookup.look(intent)
            if state is None:
                changed = self._unseen(intent) or changed
                continue
            if _changed(intent, state):
                fees = await fees_for(self.ctx, intent, state)
                with self.ctx.store.transaction() as tx:
                    self._apply(tx, intent.client_order_id, state, fees=fees)
                changed = True
            changed = await self._expire_stale_entry(intent, state) or changed
        return changed

    def _unseen(self, intent: IntentRecord) -> bool:
        """An order the broker gave us an id for and shows nowhere now, executions included
        (module doc); True when it was dropped."""
        if intent.tif == TimeInForce.GTC.value:
            # never conclude a resting stop is gone: a second stop would follow
            log.warning("broker does not show a GTC order; kept", coid=intent.client_order_id)
            return False
        if self.lookup.session_over(intent):
            self._drop(intent, "its session closed with nothing executed")
            return True
        if not self.lookup.absent(intent):
            return False
        self._drop(intent, "no longer known to the broker, and nothing executed")
        return True

    async def _expire_stale_entry(self, intent: IntentRecord, state: OrderState) -> bool:
        timeout = timedelta(seconds=self.ctx.params.entry_timeout_s)
        if (
            intent.purpose is IntentPurpose.ENTRY
            and state.status.is_working
            and state.filled_qty == 0
            and self.ctx.now() - intent.created_at >= timeout
        ):
            with self.ctx.store.read() as tx:
                current = tx.intent(intent.client_order_id)
            if current is not None and current.status.is_open:
                await self.cancel(current, "entry not filled in time")
                return True
        return False

    async def reconcile(self, *, allow_entries: bool) -> int:
        """At start-up: settle every open intent; returns how many were placed now."""
        with self.ctx.store.read() as tx:
            intents = tx.open_intents()
        placed = 0
        for intent in intents:
            if intent.broker_order_id is not None:
                state = await self.lookup.look(intent)
                if state is not None:
                    fees = await fees_for(self.ctx, intent, state)
                    with self.ctx.store.transaction() as tx:
                        self._alert_placed(tx, intent, state)
                        self._apply(tx, intent.client_order_id, state, fees=fees)
                else:
                    self._unseen(intent)
                continue
            if await self.settle(intent, allow_entries=allow_entries, grace_s=0):
                placed += 1
        return placed

    async def settle(
        self, intent: IntentRecord, *, allow_entries: bool, grace_s: float = SETTLE_GRACE_S
    ) -> bool:
        """An intent we have no broker id for (``pending``: the daemon stopped or the
        session dropped before or while placing; ``unknown``: the placing call failed;
        ``submitted``: adopted, see the module doc).

        Shown by the broker (its executions included) → adopted with its state. Not shown →
        sent again under the SAME id, unless it is an entry and entries are not allowed
        now, a DAY order of an earlier session, or an exit whose position is gone: those
        are dropped, once the absence counts. Intents written or answered less than
        ``grace_s`` ago are left alone (their placing may still be answering). True when
        it changed anything.
        """
        since = intent.updated_at or intent.created_at
        if (self.ctx.now() - since).total_seconds() < grace_s or not self.lookup.due(intent):
            return False
        state = await self.lookup.look(intent)
        if state is not None:
            self._refused.pop(intent.client_order_id, None)
            await self._record(intent, state)
            log.info("settled order", coid=intent.client_order_id, status=state.status)
            return True
        if adopted(intent):
            if self.lookup.session_over(intent):
                self._drop(intent, "its session closed with nothing executed")
                return True
            log.warning("broker has the order but does not show it", coid=intent.client_order_id)
            return False
        refused = self._refused.get(intent.client_order_id)
        drop = self._drop_reason(intent, allow_entries)
        if refused is None and drop is None:
            await self._resend(intent)
            return True
        if not self.lookup.absent(intent):
            log.info("broker does not show the order yet", coid=intent.client_order_id)
            return False
        if refused is not None:
            del self._refused[intent.client_order_id]
            self.lookup.forget(intent)
            self._rejected(intent, refused)
        elif drop is not None:
            self._drop(intent, drop)
        return True

    def _drop_reason(self, intent: IntentRecord, allow_entries: bool) -> str | None:
        """Why an intent the broker does not show must not be sent (again), if it must not."""
        created_day = self.ctx.calendar.market_date(intent.created_at)
        if created_day != self.ctx.today() and intent.tif == TimeInForce.DAY.value:
            return "a DAY order never placed in its session; dropped"
        if intent.purpose is IntentPurpose.ENTRY and not allow_entries:
            return "entry never placed, and entries are closed now; dropped"
        age = (self.ctx.now() - intent.created_at).total_seconds()
        if intent.purpose is IntentPurpose.ENTRY and age > self.ctx.params.entry_timeout_s:
            return "entry never placed, and its breakout is stale now; dropped"
        if intent.purpose.is_exit and intent.position_id is not None:
            with self.ctx.store.read() as tx:
                position = tx.position(intent.position_id)
            if position is None or not position.has_shares:
                return "exit never placed, and its position is closed; dropped"
        return None

    async def _resend(self, intent: IntentRecord) -> None:
        """Send an intent the broker does not show again, under its own client order id."""
        coid = intent.client_order_id
        log.warning("placing an order the broker does not show", coid=coid)
        try:
            state = await self.ctx.broker.place_order(request_for(intent))
        except OrderRejectedError as exc:
            if says_duplicate(str(exc), coid):
                log.warning("broker already has the order; adopted", coid=coid)
                self._mark(intent, IntentStatus.SUBMITTED, "the broker already has this id")
            else:
                self._refused[coid] = str(exc)
                self._mark(intent, IntentStatus.UNKNOWN, f"sent again and refused: {exc}")
            return
        except (BrokerUnavailableError, RateLimitedError) as exc:
            self._mark(intent, IntentStatus.UNKNOWN, str(exc))
            log.warning("order outcome unknown", coid=coid, error=str(exc))
            return
        if state.status in (OrderStatus.REJECTED, OrderStatus.INACTIVE) and not state.filled_qty:
            self._rejected(intent, state.message or f"broker says {state.status.value}")
            return
        await self._record(intent, state)

    def _mark(self, intent: IntentRecord, status: IntentStatus, reason: str) -> IntentRecord:
        with self.ctx.store.transaction() as tx:
            current = tx.intent(intent.client_order_id) or intent
            return tx.save_intent(
                replace(current, status=status, reason=reason[:200]), self.ctx.now()
            )

    def _drop(self, intent: IntentRecord, reason: str) -> IntentRecord:
        now = self.ctx.now()
        self.lookup.forget(intent)
        self._refused.pop(intent.client_order_id, None)
        with self.ctx.store.transaction() as tx:
            current = tx.intent(intent.client_order_id) or intent
            saved = tx.save_intent(
                replace(current, status=IntentStatus.CANCELLED, reason=reason), now
            )
            if intent.purpose is IntentPurpose.ENTRY:
                self.booking.entry_ended(tx, saved, now)
            if intent.candidate_id is not None and intent.purpose is IntentPurpose.ENTRY:
                candidate = tx.candidate_by_id(intent.candidate_id)
                if candidate is not None and candidate.can(CandidateMove.ENTRY_LAPSED):
                    tx.save_candidate(candidate.entry_lapsed(), now)
        log.warning("order intent dropped", coid=intent.client_order_id, reason=reason)
        return saved

    # -- applying broker state -------------------------------------------------------------

    def _apply(
        self,
        tx: TradingTx,
        client_order_id: str,
        state: OrderState,
        *,
        reason: str | None = None,
        fees: OrderFees | None = None,
    ) -> IntentRecord:
        """Record ``state`` on the intent and book any new fill quantity into positions;
        queue the entry message this settles, or the lapse of an unfilled entry (module
        doc). ``fees``: the executions to state an entry's or exit's fees from."""
        intent = tx.intent(client_order_id)
        if intent is None:
            raise InvalidInputError(f"order {client_order_id}: no such intent")
        now = self.ctx.now()
        status = _STATUS[state.status]
        if intent.status in (IntentStatus.FILLED, IntentStatus.CANCELLED, IntentStatus.REJECTED):
            return intent  # final already; a late duplicate report changes nothing
        # Filled quantity only ever grows, and only with a price to book it at: a stale
        # (lower) report must not make the next one book the difference twice.
        new_filled = intent.filled_qty
        if state.filled_qty > intent.filled_qty and state.avg_fill_price is not None:
            new_filled = state.filled_qty
        elif state.filled_qty > intent.filled_qty and status is IntentStatus.FILLED:
            status = IntentStatus.PARTIALLY_FILLED  # filled, but no price yet: ask again
        delta = new_filled - intent.filled_qty
        updated = replace(
            intent,
            status=status,
            broker_order_id=state.broker_order_id,
            filled_qty=new_filled,
            avg_fill_price=state.avg_fill_price if delta > 0 else intent.avg_fill_price,
            reason=state.message or reason or intent.reason,
        )
        if intent.purpose is IntentPurpose.STOP and first_answer(intent) and status in ANSWERED:
            # the first stop the broker took: the entry is settled (before a fill of the
            # stop itself sells the shares it names)
            self.booking.settle_entry(tx, intent.position_id, Cover.BROKER_STOP, fees, now)
        if delta > 0 and state.avg_fill_price is not None:
            fill_price = intent.price_of_increment(new_filled, state.avg_fill_price)
            position = self.booking.book(tx, updated, delta, fill_price, now, fees)
            updated = replace(updated, position_id=position.id)
        saved = tx.save_intent(updated, now)
        if delta > 0 and intent.purpose is IntentPurpose.ENTRY and not self.ctx.params.resting_stop:
            self.booking.settle_entry(tx, saved.position_id, Cover.SOFTWARE_STOP, fees, now)
        if status is IntentStatus.CANCELLED and intent.purpose is IntentPurpose.ENTRY:
            self.booking.entry_ended(tx, saved, now, why=reason)
        unfilled_entry_ended = (
            status is IntentStatus.CANCELLED
            and intent.purpose is IntentPurpose.ENTRY
            and new_filled == 0
            and intent.candidate_id is not None
        )
        if unfilled_entry_ended and intent.candidate_id is not None:
            candidate = tx.candidate_by_id(intent.candidate_id)
            if candidate is not None and candidate.can(CandidateMove.ENTRY_LAPSED):
                tx.save_candidate(candidate.entry_lapsed(), now)
        return saved


def _changed(intent: IntentRecord, state: OrderState) -> bool:
    return _STATUS[state.status] is not intent.status or state.filled_qty != intent.filled_qty
