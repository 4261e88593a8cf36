"""``skimd broker check``: can we reach the configured broker, and what does it say?

Connects, prints session state, accounts, one quote and the pacing budget, then closes
(the use case is :mod:`skimd.services.broker_check`). Any failure is the broker's
SkimdError, printed by the CLI as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from skimd import bootstrap
from skimd.config import Settings
from skimd.logs import SecretRedactor


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


def _check(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    # to stderr, with the secrets masked: stdout is the report (pure JSON with --json)
    redactor = bootstrap.setup_logging(settings)
    report = asyncio.run(_collect(settings, args.symbol, redactor))
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


async def _collect(
    settings: Settings, symbol: str, redactor: SecretRedactor
) -> dict[str, Any]:
    async with bootstrap.build(
        settings, access=bootstrap.Access.SHARED, redactor=redactor
    ) as app:
        return await app.broker_check(symbol)
