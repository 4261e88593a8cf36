"""Orders, their states and executions, independent of any broker's wire format.

Exactly-once placement rests on ``client_order_id``: the caller chooses it (and persists its
intent first), brokers attach it to the order (IBKR ``cOID``), and ``find_order`` looks an
order up by it after a crash or a timeout. A broker never creates a second order for a client
order id it has already accepted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from skimd.errors import InvalidInputError


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL: the change in position per unit."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    LMT = "LMT"
    MKT = "MKT"
    STP = "STP"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"


class OrderStatus(StrEnum):
    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    INACTIVE = "inactive"

    @property
    def is_terminal(self) -> bool:
        """No further fills can happen (filled, cancelled, rejected, inactive)."""
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        """The order is live at the broker and may still fill."""
        return not self.is_terminal


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.INACTIVE}
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask a broker to do. Validated on construction (raises InvalidInputError).

    LMT needs ``limit_price``; STP needs ``stop_price``; MKT takes neither. ``qty`` is a
    positive number of shares. Intraday entries default to DAY.
    """

    client_order_id: str
    symbol: str
    conid: int
    side: Side
    qty: int
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY

    def __post_init__(self) -> None:
        where = f"order {self.client_order_id!r} ({self.symbol})"
        if not self.client_order_id.strip():
            raise InvalidInputError(f"order for {self.symbol}: client_order_id is empty")
        if self.qty <= 0:
            raise InvalidInputError(f"{where}: qty must be positive, got {self.qty}")
        if self.order_type is OrderType.LMT and self.limit_price is None:
            raise InvalidInputError(f"{where}: LMT order needs limit_price")
        if self.order_type is OrderType.STP and self.stop_price is None:
            raise InvalidInputError(f"{where}: STP order needs stop_price")
        if self.order_type is OrderType.MKT and (
            self.limit_price is not None or self.stop_price is not None
        ):
            raise InvalidInputError(f"{where}: MKT order takes no limit or stop price")
        for name in ("limit_price", "stop_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInputError(f"{where}: {name} must be positive, got {value}")


@dataclass(frozen=True, slots=True)
class OrderState:
    """The broker's view of one order at a moment.

    ``remaining`` is ``qty - filled_qty`` for a working order and 0 once terminal.
    ``message`` carries the broker's reason for a rejection or cancellation, if any.
    """

    broker_order_id: str
    client_order_id: str | None
    status: OrderStatus
    symbol: str
    conid: int
    side: Side
    qty: int
    filled_qty: int = 0
    avg_fill_price: Decimal | None = None
    remaining: int = 0
    order_type: OrderType | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce | None = None
    message: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``exec_id`` is unique per broker and is the journal's idempotency key."""

    exec_id: str
    broker_order_id: str
    client_order_id: str | None
    symbol: str
    conid: int
    side: Side
    qty: int
    price: Decimal
    commission: Decimal
    executed_at: datetime
    account: str

    def __post_init__(self) -> None:
        if self.executed_at.utcoffset() is None:
            raise ValueError("Fill.executed_at must be a timezone-aware datetime")

    @property
    def gross(self) -> Decimal:
        """qty x price, without commission."""
        return self.price * self.qty

    @property
    def cash_delta(self) -> Decimal:
        """Change to cash this fill causes: buys cost gross + commission, sells bring gross -
        commission."""
        return -self.side.sign * self.gross - self.commission


# Kept as a synonym: services speak of executions, brokers of fills.
Execution = Fill


@dataclass(frozen=True, slots=True)
class OrderQuestion:
    """A confirmation question a broker asks before accepting an order (IBKR ``/reply``).

    ``message_ids`` are the broker's stable codes for the question kinds (IBKR ``messageIds``,
    e.g. ``"o163"``); an allow-list is matched against them, never against free text.
    """

    id: str
    message: str
    message_ids: tuple[str, ...] = ()

    def allowed_by(self, allowed_ids: Collection[str]) -> bool:
        """True when the question has codes and every one of them is allow-listed."""
        return bool(self.message_ids) and all(m in allowed_ids for m in self.message_ids)
