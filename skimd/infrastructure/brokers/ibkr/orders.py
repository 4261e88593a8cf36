"""IBKR order path: placement with its confirmation dialogue, cancels, status and lookups.

- Exactly-once orders rest on ``cOID`` (= ``client_order_id``). An order POST or a
  confirmation reply is never retried blindly. After a timeout/5xx the order is looked up by
  its cOID in ``/iserver/account/orders``: found → its state is returned; absent →
  BrokerUnavailableError ("outcome unknown; not resent"). IBKR may still be processing it,
  so sending again could double it; the caller retries ``place_order`` later with the same
  client order id, which IBKR refuses as a duplicate if the first one did land (and that
  refusal is again resolved by a lookup).
- Confirmation questions are answered "yes" only when every ``messageIds`` code is in
  ``[ibkr] confirm_question_ids``; any other question is answered "no" and the order is
  rejected with OrderRejectedError carrying the question text.
- Paper guard, second line: a live account is refused at every placement unless
  ``[broker] live_trading = true`` (the first line is at connect).
- An order POST answered ``400 "no bridge"`` was not accepted: IBKR had no brokerage session
  to carry it (IBind reads that answer as "call initialize_brokerage_session() first",
  https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client.py). It is still not
  resent blindly: once the session is re-initialised the order is looked up by its cOID and
  sent again only when it is not there (a duplicate would be refused by cOID anyway). A
  confirmation reply meeting "no bridge" is not resent (its question died with the session):
  BrokerSessionError, and the caller places it again later under the same cOID. A cancel
  meeting "no bridge" is sent again once the session is back (a cancel cannot double).
- ``GET /iserver/account/order/status/{orderId}`` answers one order: ``order_id``,
  ``conid``, ``symbol``, ``side``, ``size`` (the *remaining* size), ``total_size``,
  ``cum_fill``, ``order_status``, ``order_type``, ``tif``, ``average_price`` ... and no cOID
  or ``order_ref`` (IBKR's OpenAPI model ``OrderStatus``, https://api.ibkr.com/gw/api/v3/api-docs,
  as generated in https://github.com/nautechsystems/nautilus_trader/blob/develop/crates/adapters/interactive_brokers/client/docs/OrderStatus.md).
  The cOID is mapped here from our own placement and from the live orders list
  (``/iserver/account/orders``), whose rows carry it as ``order_ref``.
- Prices: ``price`` is a LMT order's limit and a STP order's stop; ``auxPrice`` is the stop
  of a STOP_LIMIT (whose ``price`` is its limit)
  (https://www.interactivebrokers.com/campus/ibkr-quant-news/how-to-code-a-bracket-order-in-the-web-api/).
  We place LMT, MKT and STP only.
"""

from __future__ import annotations

from typing import Any

import structlog

from skimd.config import IbkrSettings
from skimd.domain.orders import OrderQuestion, OrderRequest, OrderState, OrderType
from skimd.errors import (
    BrokerUnavailableError,
    InvalidInputError,
    OrderRejectedError,
    SkimdError,
)
from skimd.infrastructure.brokers.ibkr import mapping
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp, IbkrRequestError, NoBridgeError

log = structlog.get_logger(__name__)

MAX_QUESTIONS = 8


class IbkrOrderDesk:
    """The order endpoints. ``symbols`` (conid → ticker, filled by the market-data side)
    names the orders IBKR reports by conid only."""

    def __init__(
        self,
        http: IbkrHttp,
        *,
        settings: IbkrSettings,
        live_trading: bool,
        symbols: dict[int, str],
    ) -> None:
        self._http = http
        self._settings = settings
        self._live_trading = live_trading
        self._symbols = symbols
        self._coid_by_order: dict[str, str] = {}

    async def place_order(self, account: str, request: OrderRequest) -> OrderState:
        where = f"order {request.client_order_id!r} ({request.symbol})"
        if not mapping.is_paper_account(account) and not self._live_trading:
            raise OrderRejectedError(f"{where}: {account} is a live account and live trading "
                                     "is off ([broker] live_trading)")
        payload = {"orders": [_order_json(request, account)]}
        path = f"/iserver/account/{account}/orders"
        try:
            body = await self._send_order_step(request, where, path, payload)
        except NoBridgeError as exc:
            if not exc.recovered:
                raise
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            log.warning("ibkr_order_resent_after_no_bridge", coid=request.client_order_id)
            body = await self._send_order_step(request, where, path, payload)
        if isinstance(body, OrderState):
            return body
        for _ in range(MAX_QUESTIONS):
            outcome = await self._handle_order_reply(request, where, body)
            if isinstance(outcome, OrderState):
                return outcome
            body = outcome
        raise OrderRejectedError(f"{where}: IBKR kept asking questions; not placed")

    async def _send_order_step(
        self, request: OrderRequest, where: str, path: str, payload: Any
    ) -> Any:
        """One non-idempotent POST of the placement dialogue; resolves unknown outcomes by
        looking the order up by its cOID (returning its OrderState when found)."""
        try:
            return await self._http.post(path, payload, idempotent=False)
        except IbkrRequestError as exc:
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            raise OrderRejectedError(f"{where}: IBKR refused it: {exc.error}") from exc
        except BrokerUnavailableError as exc:
            found = await self.find_order(request.client_order_id)
            if found is not None:
                log.warning("ibkr_order_found_after_failure", coid=request.client_order_id)
                return found
            raise BrokerUnavailableError(
                f"{where}: outcome unknown ({exc}); not found at IBKR, not resent"
            ) from exc

    async def _handle_order_reply(
        self, request: OrderRequest, where: str, body: Any
    ) -> OrderState | Any:
        """An OrderState when placed, or the next response body after answering a question."""
        if isinstance(body, dict) and body.get("error"):
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            raise OrderRejectedError(f"{where}: IBKR refused it: {_one_line(body['error'])}")
        rows = body if isinstance(body, list) else [body]
        if not rows or not isinstance(rows[0], dict):
            raise BrokerUnavailableError(f"{where}: unexpected IBKR answer to an order")
        row = rows[0]
        if row.get("order_id") is not None:
            return await self._placed_state(request, row)
        if row.get("id") is None:
            raise BrokerUnavailableError(f"{where}: unexpected IBKR answer to an order")
        message = row.get("message") or []
        question = OrderQuestion(
            id=str(row["id"]),
            message=_one_line(" ".join(map(str, message)) if isinstance(message, list)
                              else message),
            message_ids=tuple(str(m) for m in row.get("messageIds") or ()),
        )
        if not question.allowed_by(self._settings.confirm_question_ids):
            try:
                await self._http.post(f"/iserver/reply/{question.id}", {"confirmed": False})
            except SkimdError as exc:  # best effort: the question expires on its own anyway
                log.warning("ibkr_reply_no_failed", error=str(exc))
            codes = ",".join(question.message_ids) or "no code"
            raise OrderRejectedError(
                f"{where}: IBKR asked ({codes}) {question.message!r}; not on the confirm "
                "list, order not placed"
            )
        return await self._send_order_step(
            request, where, f"/iserver/reply/{question.id}", {"confirmed": True}
        )

    async def _placed_state(self, request: OrderRequest, row: dict[str, Any]) -> OrderState:
        order_id = str(row["order_id"])
        self._coid_by_order[order_id] = request.client_order_id
        try:
            return await self.order_status(order_id)
        except (BrokerUnavailableError, InvalidInputError):
            status = mapping.parse_status(row.get("order_status"), 0, request.qty)
            return OrderState(
                broker_order_id=order_id,
                client_order_id=request.client_order_id,
                status=status,
                symbol=request.symbol,
                conid=request.conid,
                side=request.side,
                qty=request.qty,
                remaining=0 if status.is_terminal else request.qty,
                order_type=request.order_type,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                tif=request.tif,
            )

    async def cancel_order(self, account: str, broker_order_id: str) -> OrderState:
        path = f"/iserver/account/{account}/order/{broker_order_id}"
        try:
            try:
                await self._http.delete(path)
            except NoBridgeError as exc:
                if not exc.recovered:
                    raise
                # Not accepted ("no bridge"); a cancel asks for an end state, so once the
                # session is back it is sent again (a second cancel of a done order is
                # refused, never doubled).
                log.warning("ibkr_cancel_resent_after_no_bridge", order_id=broker_order_id)
                await self._http.delete(path)
        except IbkrRequestError as exc:
            raise InvalidInputError(
                f"IBKR: cannot cancel order {broker_order_id!r}: {exc.error}"
            ) from exc
        return await self.order_status(broker_order_id)

    async def order_status(self, broker_order_id: str) -> OrderState:
        try:
            row = await self._http.get(f"/iserver/account/order/status/{broker_order_id}")
        except IbkrRequestError as exc:
            raise InvalidInputError(
                f"IBKR: unknown order id {broker_order_id!r}: {exc.error}"
            ) from exc
        if not isinstance(row, dict) or row.get("order_id") is None:
            raise InvalidInputError(f"IBKR: unknown order id {broker_order_id!r}")
        return mapping.order_state_from(
            row,
            client_order_id=self._coid_by_order.get(str(row["order_id"])),
            symbol=self._symbols.get(int(row.get("conid") or 0), ""),
        )

    async def _orders(self) -> list[OrderState]:
        body = await self._http.get("/iserver/account/orders")
        rows = (body.get("orders") or []) if isinstance(body, dict) else []
        out = []
        for row in rows:
            try:
                state = mapping.order_state_from(row)
            except (ValueError, TypeError, KeyError):
                continue
            if state.client_order_id:
                self._coid_by_order[state.broker_order_id] = state.client_order_id
            out.append(state)
        return out

    async def find_order(self, client_order_id: str) -> OrderState | None:
        matches = [o for o in await self._orders() if o.client_order_id == client_order_id]
        return matches[-1] if matches else None

    async def open_orders(self) -> list[OrderState]:
        return [o for o in await self._orders() if o.status.is_working]


def _order_json(request: OrderRequest, account: str) -> dict[str, Any]:
    order: dict[str, Any] = {
        "acctId": account,
        "conid": request.conid,
        "orderType": request.order_type.value,
        "side": request.side.value,
        "quantity": request.qty,
        "tif": request.tif.value,
        "cOID": request.client_order_id,
        "outsideRTH": False,
    }
    if request.order_type is OrderType.LMT and request.limit_price is not None:
        order["price"] = float(request.limit_price)
    if request.order_type is OrderType.STP and request.stop_price is not None:
        order["price"] = float(request.stop_price)  # IBKR: a STP order's price is its stop
    return order


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]
