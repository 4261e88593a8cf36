"""Accounts, positions and the broker session's health as the services see them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """A holding. ``avg_cost`` is per share (brokers include commissions, as IBKR does);
    ``market_price`` is None when the broker has no current price."""

    account: str
    symbol: str
    conid: int
    qty: int
    avg_cost: Decimal
    market_price: Decimal | None = None

    @property
    def market_value(self) -> Decimal | None:
        return None if self.market_price is None else self.market_price * self.qty

    @property
    def unrealized_pnl(self) -> Decimal | None:
        if self.market_price is None:
            return None
        return (self.market_price - self.avg_cost) * self.qty


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Balances of one account in ``currency``. ``is_paper`` is True for paper/demo accounts;
    the daemon refuses live trading unless configured for it."""

    account_id: str
    is_paper: bool
    currency: str
    cash: Decimal
    net_liquidation: Decimal
    buying_power: Decimal

    @property
    def equity(self) -> Decimal:
        """Synonym for net liquidation value."""
        return self.net_liquidation


@dataclass(frozen=True, slots=True)
class SessionHealth:
    """State of the broker session.

    ``connected``: the broker answers at all. ``authenticated``: the brokerage session is up
    and may trade. ``competing``: another login (TWS, mobile, another gateway) holds or is
    taking the session. ``message`` is a one-line human explanation.
    """

    authenticated: bool
    competing: bool
    connected: bool
    message: str = ""

    @property
    def ok(self) -> bool:
        """Ready to trade: connected, authenticated and not competing."""
        return self.connected and self.authenticated and not self.competing
