"""``skimd broker check``'s use case: can we reach the configured broker, and what does it
say? Connects, gathers session state, accounts, one quote and the pacing budget as
JSON-safe data."""

from __future__ import annotations

from typing import Any

from skimd.services.ports.broker import Broker


async def collect(broker: Broker, symbol: str) -> dict[str, Any]:
    """Connect and gather the check report (closing the broker is its owner's job)."""
    health = await broker.connect()
    accounts = await broker.accounts()
    contract = (await broker.resolve([symbol]))[symbol.strip().upper()]
    quote = (await broker.snapshots([contract.conid]))[0]
    if not quote.has_data:  # first snapshot of a conid may be a pre-flight
        quote = (await broker.snapshots([contract.conid]))[0]
    return {
        "broker": broker.kind,
        "session": {
            "connected": health.connected,
            "authenticated": health.authenticated,
            "competing": health.competing,
            "message": health.message,
        },
        "accounts": [
            {
                "account_id": a.account_id,
                "paper": a.is_paper,
                "currency": a.currency,
                "cash": str(a.cash),
                "net_liquidation": str(a.net_liquidation),
                "buying_power": str(a.buying_power),
            }
            for a in accounts
        ],
        "quote": {
            "symbol": contract.symbol,
            "conid": contract.conid,
            "last": _s(quote.last),
            "bid": _s(quote.bid),
            "ask": _s(quote.ask),
            "prev_close": _s(quote.prev_close),
            "volume": quote.volume,
            "at": quote.at.isoformat(),
        },
        "pacing": broker.pacing_budget(),
    }


def _s(value: object) -> str | None:
    return None if value is None else str(value)
