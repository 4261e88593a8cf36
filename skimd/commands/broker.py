"""``skimd broker check``: can we reach the configured broker, and what does it say?

Connects, prints session state, accounts, one quote and the pacing budget, then closes.
Any failure is the broker's SkimdError, printed by the CLI as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from skimd.config import Settings, load_settings
from skimd.infrastructure.brokers.protocols import Broker


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    broker = subparsers.add_parser("broker", help="broker connectivity")
    actions = broker.add_subparsers(dest="broker_action", metavar="ACTION")
    check = actions.add_parser(
        "check", parents=parents, help="connect and show session, accounts, a quote, pacing"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--symbol", default="BHP", help="ticker to quote (default: BHP)")
    check.set_defaults(handler=_check)

    def _usage(_: argparse.Namespace) -> int:
        broker.print_help()
        return 2

    broker.set_defaults(handler=_usage)


def _build(settings: Settings) -> Broker:
    """Built by the composition root, like every other broker."""
    from skimd import bootstrap

    return bootstrap.build_broker(settings)


async def collect(broker: Broker, symbol: str) -> dict[str, Any]:
    """Connect, gather the check report, and always close the broker."""
    try:
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
    finally:
        await broker.close()


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _check(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    report = asyncio.run(collect(_build(settings), args.symbol))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    s = report["session"]
    state = "authenticated" if s["authenticated"] else "NOT authenticated"
    print(f"broker: {report['broker']}  session: {state}, competing={s['competing']}")
    if s["message"]:
        print(f"  {s['message']}")
    for a in report["accounts"]:
        kind = "paper" if a["paper"] else "LIVE"
        print(
            f"account {a['account_id']} ({kind}): cash {a['cash']} {a['currency']}, "
            f"net liquidation {a['net_liquidation']}, buying power {a['buying_power']}"
        )
    q = report["quote"]
    print(
        f"quote {q['symbol']} (conid {q['conid']}): last {q['last'] or '-'} "
        f"bid {q['bid'] or '-'} ask {q['ask'] or '-'} prev close {q['prev_close'] or '-'} "
        f"volume {q['volume'] if q['volume'] is not None else '-'}"
    )
    budget = ", ".join(f"{k}={v}" for k, v in report["pacing"].items())
    print(f"pacing: {budget}")
    return 0
