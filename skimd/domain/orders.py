"""Orders, their states and executions, independent of any broker's wire format.

Exactly-once placement rests on ``client_order_id``: the caller chooses it (and persists its
intent first), brokers attach it to the order (IBKR ``cOID``), and ``find_order`` looks an
order up by it after a crash or a timeout. A broker never creates a second order for a client
order id it has already accepted.

Executions are of shares unless they say otherwise: :class:`Fill` carries ``sec_type``
(``"STK"`` by default) and, for an option (``"OPT"``), the contract as an :class:`OptionLeg`
when the broker's description of it could be read.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
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


STOCK = "STK"
OPTION = "OPT"

_CODE = re.compile(
    r"^(?P<underlying>\S+) (?P<expiry>\d{4}-\d{2}-\d{2}) (?P<strike>\d+(?:\.\d+)?) "
    r"(?P<right>[CP]) x(?P<multiplier>\d+)$"
)


@dataclass(frozen=True, slots=True)
class OptionLeg:
    """The option contract one execution traded.

    ``underlying`` is the ASX code of the underlying (``"BHP"``), ``right`` is ``"C"`` (call)
    or ``"P"`` (put), ``multiplier`` the shares per contract (100 for ASX equity options).
    Validated on construction (raises InvalidInputError), so a leg is always usable.
    """

    underlying: str
    right: str
    strike: Decimal
    expiry: date
    multiplier: int = 100

    def __post_init__(self) -> None:
        where = f"option {self.underlying!r} {self.expiry} {self.strike} {self.right}"
        if not self.underlying or any(c.isspace() for c in self.underlying):
            raise InvalidInputError(f"{where}: underlying must be a code without spaces")
        if self.right not in ("C", "P"):
            raise InvalidInputError(f"{where}: right must be 'C' or 'P'")
        if not self.strike.is_finite() or self.strike <= 0:
            raise InvalidInputError(f"{where}: strike must be positive")
        if self.multiplier <= 0:
            raise InvalidInputError(f"{where}: multiplier must be positive, got {self.multiplier}")

    @property
    def code(self) -> str:
        """One-line identity of the contract, e.g. ``"BHP 2026-12-24 45 C x100"``.

        Stable (the strike without trailing zeros) and read back by :meth:`from_code`, so it
        can stand for the contract where only a text fits (a stored trade's ticker).
        """
        return (
            f"{self.underlying} {self.expiry.isoformat()} {_plain(self.strike)} "
            f"{self.right} x{self.multiplier}"
        )

    @classmethod
    def from_code(cls, text: str) -> OptionLeg | None:
        """The leg a :attr:`code` names; None for any other text (a share ticker)."""
        match = _CODE.match(text)
        if match is None:
            return None
        try:
            return cls(
                underlying=match["underlying"],
                right=match["right"],
                strike=Decimal(match["strike"]),
                expiry=date.fromisoformat(match["expiry"]),
                multiplier=int(match["multiplier"]),
            )
        except (ValueError, InvalidOperation, InvalidInputError):
            return None


def _plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 45.500 → 45.5, 4.5E+1 → 45."""
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``exec_id`` is unique per broker and is the journal's idempotency key.

    ``sec_type`` is the broker's security type (``"STK"`` shares, ``"OPT"`` options, ...).
    An option fill's ``symbol`` is its underlying's code and ``option`` its contract, or None
    when the broker's description could not be read (still ``"OPT"``, so it is never taken
    for shares). ``qty`` counts contracts for options, shares otherwise; ``price`` is per
    share (IBKR quotes option premiums per share).
    """

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
    sec_type: str = STOCK
    option: OptionLeg | None = None

    def __post_init__(self) -> None:
        if self.executed_at.utcoffset() is None:
            raise ValueError("Fill.executed_at must be a timezone-aware datetime")
        if self.option is not None and self.sec_type != OPTION:
            raise ValueError(f"Fill {self.exec_id}: an option leg needs sec_type {OPTION!r}")

    @property
    def is_option(self) -> bool:
        return self.sec_type == OPTION

    @property
    def gross(self) -> Decimal:
        """qty x price (x the contract multiplier for an option), without commission."""
        multiplier = 1 if self.option is None else self.option.multiplier
        return self.price * self.qty * multiplier

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
