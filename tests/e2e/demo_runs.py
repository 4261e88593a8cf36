"""Helpers: run ``skimd demo`` as a real process, and read a demo day back from its DB."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from skimd.config import DatabaseSettings, PathSettings, Settings
from skimd.infrastructure.database import TradingDatabase, open_trading_database
from skimd.infrastructure.database.tables import OrderIntent, Position, RoundTrip, Trade
from tests.fakes.processes import base_env

ROOT = Path(__file__).resolve().parents[2]
DEMO_DAY = "2026-11-24"
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


def demo_config(folder: Path) -> Path:
    """A demo config of its own: data dir in ``folder``, small Argon2 cost (tests only)."""
    folder.mkdir(parents=True, exist_ok=True)
    kdf = "\n".join(f"{k} = {v}" for k, v in SMALL_KDF.items())
    path = folder / "skimd.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [paths]
            data_dir = "{folder / "data"}"

            [database]
            create_passphrase = true
            {kdf}

            [logging]
            format = "json"
            level = "WARNING"
            """
        ),
        encoding="utf-8",
    )
    return path


DISCORD_BUCKET = (5, 2.0)  # Discord's per-webhook limit, for the loopback fake


def webhook_config(folder: Path, url: str) -> Path:
    """:func:`demo_config` with console alerts off and the Discord webhook ``url`` (given
    through a ``_file``, as secrets must be)."""
    config = demo_config(folder)
    secret = folder / "webhook.url"
    secret.write_text(url + "\n", encoding="utf-8")
    secret.chmod(0o600)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + f'\n[notifications]\nconsole = false\ndiscord_webhook_url_file = "{secret}"\n',
        encoding="utf-8",
    )
    return config


def env() -> dict[str, str]:
    """The process environment without skimd's own variables, able to import skimd."""
    return {**base_env(), "PYTHONPATH": str(ROOT)}


def demo_command(config: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "skimd",
        "--config",
        str(config),
        "demo",
        "--date",
        DEMO_DAY,
        *extra,
    ]


def run_demo(
    config: Path, *extra: str, source: Path = ROOT, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    """The demo as a process, from the ``skimd`` package under ``source`` (another tree's,
    e.g. an older revision's extracted by a bench; this repository's by default)."""
    return subprocess.run(
        demo_command(config, *extra),
        env={**env(), "PYTHONPATH": os.pathsep.join(dict.fromkeys((str(source), str(ROOT))))},
        cwd=source,  # `python -m` puts the working directory first on the path
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def start_demo(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        demo_command(config),
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@contextmanager
def open_demo_db(folder: Path, filename: str = "skimd.db") -> Iterator[TradingDatabase]:
    """The demo's database in ``folder`` (or another database of its data dir, e.g. a
    backtest's journal, ``backtests/RUN/journal.db``: the same passphrase)."""
    data_dir = folder / "data"
    settings = Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            filename=filename,
            passphrase=SecretStr((data_dir / "skimd.passphrase").read_text().strip()),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
    )
    db = open_trading_database(settings, create=False)
    try:
        yield db
    finally:
        db.close()


def final_state(folder: Path) -> dict[str, Any]:
    """The records a trading day leaves, on the fields that must not depend on when the
    daemon happened to be running (ids and bookkeeping times are left out)."""
    with open_demo_db(folder) as db, db.unit_of_work(read_only=True) as uow:
        s = uow.session
        from sqlalchemy import select

        positions = sorted(
            (p.ticker, p.qty, str(p.avg_price), p.status, str(p.stop), p.partial_exit_done)
            for p in s.scalars(select(Position))
        )
        orders = sorted(
            (
                o.client_order_id,
                o.side,
                o.qty,
                o.order_type,
                str(o.limit_price),
                str(o.stop_price),
                o.status,
                o.filled_qty,
                str(o.avg_fill_price),
                o.purpose,
            )
            for o in s.scalars(select(OrderIntent))
        )
        trades = sorted(
            (
                t.exec_id,
                t.ticker,
                t.side,
                str(t.qty),
                str(t.price),
                str(t.commission),
                t.executed_at.isoformat(),
                t.client_order_id,
            )
            for t in s.scalars(select(Trade))
        )
        trips = sorted(
            (
                r.ticker,
                str(r.qty),
                str(r.entry_avg),
                str(r.exit_avg),
                str(r.net_pnl),
                r.status,
                r.opened_at.isoformat(),
                r.closed_at.isoformat() if r.closed_at else None,
            )
            for r in s.scalars(select(RoundTrip))
        )
    return {"positions": positions, "orders": orders, "trades": trades, "round_trips": trips}
