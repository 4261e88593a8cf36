"""``skimd broker check`` as real processes, back to back, beside a running broker user of
the same account, against the fake IBKR over loopback with IBKR's documented limits on
(:mod:`tests.fakes.ibkr_limits`): no request may draw a 429.

IBKR counts per user: every check's ``GET /portfolio/accounts`` (1 req/5 secs) must reach
the server at least 5 s after the previous process's, and the daemon-like user's keep-alive
tickles share the ``/tickle`` and global budgets with the checks. Real 5-s limits: twenty
runs take about two minutes, hence ``slow``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from skimd import bootstrap
from skimd.clock import SystemClock
from skimd.config import load_settings
from skimd.errors import SkimdError
from tests.conftest import write_private
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, FakeInstrument, serve_loopback
from tests.fakes.processes import base_env

RUNS = 20


def ibkr_config(keys: FakeIbkrKeys, folder: Path, base_url: str) -> Path:
    """A config for the ``ibkr`` broker at ``base_url``, every secret in a 0600 file."""
    signature, encryption = keys.write_keys(folder)
    secrets = {
        "consumer_key": keys.consumer_key,
        "access_token": keys.access_token,
        "access_token_secret": keys.access_token_secret_b64,
        "dh_prime": format(keys.dh_prime, "x"),
        "passphrase": "correct horse",
    }
    lines = [
        "[paths]",
        f'data_dir = "{folder / "data"}"',
        "[database]",
        f'passphrase_file = "{folder / "passphrase"}"',
        "[broker]",
        'kind = "ibkr"',
        "[ibkr]",
        f'base_url = "{base_url}"',
        'account_id = "DU1234567"',
        f'signature_key_file = "{signature}"',
        f'encryption_key_file = "{encryption}"',
        "snapshot_poll_interval_s = 0.0",
        # the daemon-like user tickles every 20 s: often enough to share /tickle with the
        # checks (1 req/sec), and each of its tickles after a check's LST exchange takes
        # the token back (the fake keeps one LST per consumer)
        "tickle_interval_s = 20.0",
    ]
    for name, value in secrets.items():
        if name == "passphrase":
            write_private(folder / name, value)
            continue
        lines.append(f'{name}_file = "{write_private(folder / name, value)}"')
    return write_private(folder / "skimd.toml", "\n".join(lines) + "\n")


async def keep_session(
    config: Path, ready: asyncio.Event, stop: asyncio.Event, failures: list[str]
) -> None:
    """A second user of the account, built as the daemon builds its broker (bootstrap, data
    dir shared with the checks): connects and keeps the session alive until ``stop``."""
    try:
        settings = load_settings(config, base_env())
        async with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
            try:
                await app.broker.connect()
            finally:
                ready.set()
            await stop.wait()
    except SkimdError as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        ready.set()


async def broker_check(config: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "skimd", "--config", str(config), "broker", "check", "--json",
        env=base_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_twenty_broker_checks_back_to_back_beside_a_running_user_draw_no_429(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    fake = FakeIbkr(ibkr_keys, clock=SystemClock())
    assert fake.limiter is not None
    fake.add_instrument(
        FakeInstrument("BHP", 4036812, "BHP GROUP", Decimal("44.5"), last=Decimal("45.1"))
    )
    failures: list[str] = []
    results: list[tuple[int, str, str]] = []
    async with serve_loopback(fake) as base_url:
        config = ibkr_config(ibkr_keys, tmp_path, base_url)
        ready, stop = asyncio.Event(), asyncio.Event()
        user = asyncio.create_task(keep_session(config, ready, stop, failures))
        await ready.wait()
        try:
            for _ in range(RUNS):
                results.append(await broker_check(config))
        finally:
            stop.set()
            await user
    assert fake.limiter.refusals == []
    assert [(code, err) for code, _, err in results if code != 0] == []
    reports = [json.loads(out) for _, out, _ in results]
    assert all(r["quote"]["last"] == "45.1" for r in reports)
    assert failures == []
    assert len(fake.calls_to("/portfolio/accounts")) >= RUNS + 1
    assert (tmp_path / "data" / "ibkr-pacing.json").is_file()
