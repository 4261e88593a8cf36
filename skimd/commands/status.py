"""``skimd status``: what the daemon is, what it will do next, and whether it is running."""

from __future__ import annotations

import argparse
import json
from typing import Any

from skimd import bootstrap
from skimd.clock import SystemClock
from skimd.services.status import collect_status


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    status = subparsers.add_parser("status", parents=parents, help="show daemon and market state")
    status.add_argument("--json", action="store_true", help="print status as JSON")
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    daemon = bootstrap.build_daemon(settings, clock=SystemClock(), environ={})
    report = collect_status(daemon)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"skimd: {report['daemon']}")
    print(f"config: {report['config']}   data: {report['data_dir']}")
    print(f"market: {report['market']}")
    print("jobs:")
    for job in report["jobs"]:
        print(f"  {job['job']:<18} next {job['next_run'] or '-':<26} {job['description']}")
    return 0
