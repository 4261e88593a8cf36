"""The demo broker's book and the JSON file that keeps it across restarts of the daemon.

A real broker keeps its orders, fills, cash and holdings on its own side: when the daemon is
killed and restarted it finds its working orders still there and reconciles them by client
order id. The demo broker runs inside the daemon, so it keeps the same state in a file that
outlives the process.

File format (``FORMAT_VERSION`` 1): one JSON object; Decimals are strings (``"12.345"``),
datetimes ISO 8601 in UTC (``"2025-03-04T00:12:00+00:00"``), enums their values. It names
the market it belongs to (seed, universe size) and the account; a book from another market
or account is refused rather than traded against the wrong prices.

Writes are atomic: a temp file in the same directory (mode 0600) is written, flushed,
fsynced and renamed over the book with ``os.replace``, then the directory is fsynced, so a
``kill -9`` at any instant leaves either the old book or the new one, never half of one.

Errors: a book that exists but cannot be read or understood raises ConfigurationError
(exit 78): restarting cannot repair it, so systemd must not loop on it, and the remedy is an
operator's (delete the file to open a fresh demo account). A failed write raises FatalError:
the broker's state and its file have diverged, the daemon must stop, and a restart reloads
the last good book.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from skimd.domain.orders import (
    Fill,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from skimd.errors import ConfigurationError, FatalError, SkimdError
from skimd.files import write_atomic

FORMAT_NAME = "skimd-demo-broker-book"
BOOK_GLOB = "demo-broker-*.json"  # every demo account's book in a data dir


def book_file(state_dir: Path, seed: int) -> Path:
    """Where the demo account of market ``seed`` keeps its book in ``state_dir``."""
    return state_dir / f"demo-broker-{seed}.json"
FORMAT_VERSION = 1
_E = TypeVar("_E", Side, OrderType, TimeInForce, OrderStatus)


@dataclass
class BookOrder:
    """One order as the demo broker holds it.

    ``eval_from`` is the instant from which the order still has to be checked against the
    price path: no crossing happened between ``placed_at`` and it.
    """

    seq: int
    broker_order_id: str
    request: OrderRequest
    placed_at: datetime
    eval_from: datetime
    expires_at: datetime | None
    status: OrderStatus = OrderStatus.SUBMITTED
    filled_qty: int = 0
    avg_fill_price: Decimal | None = None
    message: str | None = None

    def state(self) -> OrderState:
        r = self.request
        return OrderState(
            broker_order_id=self.broker_order_id,
            client_order_id=r.client_order_id,
            status=self.status,
            symbol=r.symbol,
            conid=r.conid,
            side=r.side,
            qty=r.qty,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_fill_price,
            remaining=0 if self.status.is_terminal else r.qty - self.filled_qty,
            order_type=r.order_type,
            limit_price=r.limit_price,
            stop_price=r.stop_price,
            tif=r.tif,
            message=self.message,
        )


@dataclass
class Holding:
    symbol: str
    conid: int
    qty: int
    avg_cost: Decimal


@dataclass
class Book:
    """Everything a broker would keep on its side of the wire for one account.

    ``orders`` is keyed by broker order id in placement order; ``next_seq`` numbers the next
    order; ``subscribed`` are the conids whose market-data preflight is done; ``as_of`` is the
    clock time of the last saved change (None before the first save).
    """

    cash: Decimal
    next_seq: int = 1
    orders: dict[str, BookOrder] = field(default_factory=dict)
    holdings: dict[int, Holding] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    subscribed: set[int] = field(default_factory=set)
    as_of: datetime | None = None


class BookStore:
    """Loads and atomically saves one account's :class:`Book` at ``path``.

    ``market_seed``/``universe_size``/``account_id`` identify what the book belongs to; they
    are written into the file and checked on load.
    """

    def __init__(
        self, path: Path, *, account_id: str, market_seed: int, universe_size: int
    ) -> None:
        self.path = path
        self._identity: dict[str, Any] = {
            "account_id": account_id,
            "market": {"seed": market_seed, "universe_size": universe_size},
        }
        # encoded forms of what no longer changes (a finished order, a fill), by identity:
        # a book keeps every order ever placed, and re-encoding them all on every save made
        # a long backtest quadratic
        self._done: dict[str, dict[str, Any]] = {}
        self._fills: dict[str, dict[str, Any]] = {}

    def load(self) -> Book | None:
        """The saved book, or None when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._unusable(f"cannot be read ({_reason(exc)})") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise self._unusable(f"not valid JSON ({exc})") from exc
        try:
            return self._decode(data)
        except _Corrupt as exc:
            raise self._unusable(str(exc)) from None

    def save(self, book: Book) -> None:
        """Replace the file with ``book``, atomically and durably (see the module docs)."""
        text = json.dumps(self._encode(book), separators=(",", ":"))
        try:
            write_atomic(self.path, text.encode("utf-8"))  # 0600, fsynced, then renamed
        except OSError as exc:
            raise FatalError(
                f"demo broker book {self.path}: cannot be written ({_reason(exc)})"
            ) from exc

    def _unusable(self, detail: str) -> ConfigurationError:
        return ConfigurationError(
            f"demo broker book {self.path}: {detail}; move it away to open a fresh demo account"
        )

    # -- encoding --------------------------------------------------------------------------

    def _encode(self, book: Book) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            **self._identity,
            "as_of": _when_out(book.as_of),
            "cash": str(book.cash),
            "next_seq": book.next_seq,
            "subscribed": sorted(book.subscribed),
            "orders": [self._order(o) for o in book.orders.values()],
            "holdings": [
                {"symbol": h.symbol, "conid": h.conid, "qty": h.qty, "avg_cost": str(h.avg_cost)}
                for h in book.holdings.values()
            ],
            "fills": [self._fill(f) for f in book.fills],
        }

    def _order(self, order: BookOrder) -> dict[str, Any]:
        if not order.status.is_terminal:  # it may still change
            return _order_out(order)
        key = order.broker_order_id
        cached = self._done.get(key)
        if cached is None:
            cached = self._done[key] = _order_out(order)
        return cached

    def _fill(self, fill: Fill) -> dict[str, Any]:
        cached = self._fills.get(fill.exec_id)
        if cached is None:
            cached = self._fills[fill.exec_id] = _fill_out(fill)
        return cached

    def _decode(self, data: object) -> Book:
        top = _obj(data, "the top level")
        if top.get("format") != FORMAT_NAME:
            raise _Corrupt(f"not a demo broker book (format {top.get('format')!r})")
        version = top.get("version")
        if version != FORMAT_VERSION:
            raise _Corrupt(
                f"format version {version!r}, but this skimd reads version {FORMAT_VERSION}"
            )
        for key, expected in self._identity.items():
            if top.get(key) != expected:
                raise _Corrupt(
                    f"written for {key} {top.get(key)!r}, but this demo has {expected!r}"
                )
        r = _Reader(top, "")
        orders = [_order_in(_Reader(_obj(o, f"orders[{i}]"), f"orders[{i}]"))
                  for i, o in enumerate(r.items("orders"))]  # fmt: skip
        holdings = [_holding_in(_Reader(_obj(h, f"holdings[{i}]"), f"holdings[{i}]"))
                    for i, h in enumerate(r.items("holdings"))]  # fmt: skip
        fills = [_fill_in(_Reader(_obj(f, f"fills[{i}]"), f"fills[{i}]"))
                 for i, f in enumerate(r.items("fills"))]  # fmt: skip
        subscribed = r.items("subscribed")
        if any(type(c) is not int for c in subscribed):
            raise _Corrupt("subscribed: expected a list of conids")
        book = Book(
            cash=r.decimal("cash"),
            next_seq=r.integer("next_seq"),
            orders={o.broker_order_id: o for o in orders},
            holdings={h.conid: h for h in holdings},
            fills=fills,
            subscribed={c for c in subscribed if isinstance(c, int)},
            as_of=r.when_or_none("as_of"),
        )
        if len(book.orders) != len(orders) or len({o.request.client_order_id
                                                   for o in orders}) != len(orders):  # fmt: skip
            raise _Corrupt("orders: a broker order id or client order id appears twice")
        if any(o.seq >= book.next_seq for o in orders):
            raise _Corrupt("next_seq: not above every order's seq")
        return book


class _Corrupt(Exception):
    """Internal: what is wrong inside the file, named by its key path."""


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Corrupt(f"{where}: expected an object")
    return value


def _when_out(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dec_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _order_out(o: BookOrder) -> dict[str, Any]:
    r = o.request
    return {
        "seq": o.seq,
        "broker_order_id": o.broker_order_id,
        "client_order_id": r.client_order_id,
        "symbol": r.symbol,
        "conid": r.conid,
        "side": r.side.value,
        "qty": r.qty,
        "order_type": r.order_type.value,
        "limit_price": _dec_out(r.limit_price),
        "stop_price": _dec_out(r.stop_price),
        "tif": r.tif.value,
        "placed_at": _when_out(o.placed_at),
        "eval_from": _when_out(o.eval_from),
        "expires_at": _when_out(o.expires_at),
        "status": o.status.value,
        "filled_qty": o.filled_qty,
        "avg_fill_price": _dec_out(o.avg_fill_price),
        "message": o.message,
    }


def _fill_out(f: Fill) -> dict[str, Any]:
    return {
        "exec_id": f.exec_id,
        "broker_order_id": f.broker_order_id,
        "client_order_id": f.client_order_id,
        "symbol": f.symbol,
        "conid": f.conid,
        "side": f.side.value,
        "qty": f.qty,
        "price": str(f.price),
        "commission": str(f.commission),
        "executed_at": _when_out(f.executed_at),
        "account": f.account,
    }


class _Reader:
    """Typed access to one JSON object; every failure names ``where.key``."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self._data = data
        self._where = where

    def _at(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    @property
    def where(self) -> str:
        return self._where

    def _raw(self, key: str) -> object:
        if key not in self._data:
            raise _Corrupt(f"{self._at(key)}: missing")
        return self._data[key]

    def text(self, key: str) -> str:
        value = self._raw(key)
        if not isinstance(value, str):
            raise _Corrupt(f"{self._at(key)}: expected a string")
        return value

    def text_or_none(self, key: str) -> str | None:
        return None if self._raw(key) is None else self.text(key)

    def integer(self, key: str) -> int:
        value = self._raw(key)
        if type(value) is not int:
            raise _Corrupt(f"{self._at(key)}: expected an integer")
        return value

    def items(self, key: str) -> list[object]:
        value = self._raw(key)
        if not isinstance(value, list):
            raise _Corrupt(f"{self._at(key)}: expected a list")
        return value

    def decimal(self, key: str) -> Decimal:
        text = self.text(key)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _Corrupt(f"{self._at(key)}: {text!r} is not a decimal") from None
        if not value.is_finite():
            raise _Corrupt(f"{self._at(key)}: {text!r} is not a finite decimal")
        return value

    def decimal_or_none(self, key: str) -> Decimal | None:
        return None if self._raw(key) is None else self.decimal(key)

    def when(self, key: str) -> datetime:
        text = self.text(key)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _Corrupt(f"{self._at(key)}: {text!r} is not an ISO datetime") from None
        if value.utcoffset() is None:
            raise _Corrupt(f"{self._at(key)}: {text!r} has no time zone")
        return value.astimezone(UTC)

    def when_or_none(self, key: str) -> datetime | None:
        return None if self._raw(key) is None else self.when(key)

    def choice(self, key: str, kind: type[_E]) -> _E:
        text = self.text(key)
        try:
            return kind(text)
        except ValueError:
            raise _Corrupt(f"{self._at(key)}: {text!r} is not a valid {kind.__name__}") from None


def _order_in(r: _Reader) -> BookOrder:
    try:
        request = OrderRequest(
            client_order_id=r.text("client_order_id"),
            symbol=r.text("symbol"),
            conid=r.integer("conid"),
            side=r.choice("side", Side),
            qty=r.integer("qty"),
            order_type=r.choice("order_type", OrderType),
            limit_price=r.decimal_or_none("limit_price"),
            stop_price=r.decimal_or_none("stop_price"),
            tif=r.choice("tif", TimeInForce),
        )
    except SkimdError as exc:  # the request's own validation (InvalidInputError)
        raise _Corrupt(f"{r.where}: {exc}") from None
    return BookOrder(
        seq=r.integer("seq"),
        broker_order_id=r.text("broker_order_id"),
        request=request,
        placed_at=r.when("placed_at"),
        eval_from=r.when("eval_from"),
        expires_at=r.when_or_none("expires_at"),
        status=r.choice("status", OrderStatus),
        filled_qty=r.integer("filled_qty"),
        avg_fill_price=r.decimal_or_none("avg_fill_price"),
        message=r.text_or_none("message"),
    )


def _holding_in(r: _Reader) -> Holding:
    return Holding(
        symbol=r.text("symbol"),
        conid=r.integer("conid"),
        qty=r.integer("qty"),
        avg_cost=r.decimal("avg_cost"),
    )


def _fill_in(r: _Reader) -> Fill:
    return Fill(
        exec_id=r.text("exec_id"),
        broker_order_id=r.text("broker_order_id"),
        client_order_id=r.text_or_none("client_order_id"),
        symbol=r.text("symbol"),
        conid=r.integer("conid"),
        side=r.choice("side", Side),
        qty=r.integer("qty"),
        price=r.decimal("price"),
        commission=r.decimal("commission"),
        executed_at=r.when("executed_at"),
        account=r.text("account"),
    )
