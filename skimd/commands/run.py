"""``skimd run``: the daemon, in the foreground (``skimd demo`` is :mod:`.demo`'s own, so
the daemon does not load it)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from skimd import bootstrap
from skimd.config import Settings
from skimd.logs import SecretRedactor


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run", parents=parents, help="run the daemon in the foreground (systemd ExecStart)"
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    redactor = bootstrap.setup_logging(settings)
    return asyncio.run(_run_daemon(settings, redactor))


async def _run_daemon(settings: Settings, redactor: SecretRedactor) -> int:
    app = bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE, redactor=redactor)
    async with app:
        return await app.run()
