"""The daemon's composition: its IBKR broker does the RSA key work in a child process
(against the fake IBKR over loopback HTTP, a live session token really derived), so
cryptography is never imported into it; and every HTTP client it builds verifies TLS with
the one shared context."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from skimd import bootstrap
from skimd.clock import SystemClock
from skimd.config import load_settings
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, serve_loopback
from tests.fakes.processes import base_env
from tests.integration.ibkr.test_broker_check_pacing import ibkr_config

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from skimd import bootstrap
    from skimd.config import load_settings

    async def main():
        settings = load_settings({config!r}, {{}})
        async with bootstrap.build(settings, access=bootstrap.Access.SHARED, environ={{}}) as app:
            await app.broker.connect()
            accounts = [a.account_id for a in await app.broker.accounts()]
            loaded = sorted(m for m in sys.modules if m.split(".")[0] == "cryptography")
            print(json.dumps({{"accounts": accounts, "cryptography": loaded}}))

    asyncio.run(main())
    """
)


@pytest.mark.slow
async def test_the_daemons_ibkr_broker_connects_without_loading_cryptography(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    fake = FakeIbkr(ibkr_keys, clock=SystemClock())
    async with serve_loopback(fake) as base_url:
        config = ibkr_config(ibkr_keys, tmp_path, base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT.format(config=str(config)),
            cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["cryptography"] == []
    assert report["accounts"] == ["DU1234567"]
    assert fake.lst_requests >= 1 and fake.rejected_signatures == 0


def _verify_context(client: object) -> object:
    """The SSL context an httpx client's connection pool verifies with (httpx keeps it
    there and nowhere public)."""
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]


async def test_every_http_client_shares_the_one_verify_context(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path
) -> None:
    config = ibkr_config(ibkr_keys, tmp_path, "https://ibkr.invalid/v1/api")
    settings = load_settings(config, base_env())
    async with bootstrap.build(settings, access=bootstrap.Access.SHARED, environ={}) as app:
        assert app.broker.kind == "ibkr"
        clients = {"ibkr": app.broker_http, "notifications": app.http}
        news = app.news
        clients["news"] = news._http  # type: ignore[attr-defined]
        contexts = {name: _verify_context(client) for name, client in clients.items()}
    assert all(context is app.tls for context in contexts.values()), contexts


def test_the_demo_daemon_builds_no_http_client(tmp_path: Path) -> None:
    """Nothing of the demo config talks HTTP (console alerts, no heartbeat, the in-process
    broker): no client and no TLS context are made (the first costs ≈2.7 MB)."""
    settings = bootstrap.settings_from(
        str(ROOT / "config" / "skimd.toml"), {"SKIMD__PATHS__DATA_DIR": str(tmp_path / "d")}
    )
    app = bootstrap.build(
        settings, access=bootstrap.Access.EXCLUSIVE, environ={}, create_database=True
    )
    try:
        assert app.supervisor.jobs.ids() and app.broker.kind == "demo" and app.notifier
        assert not {"http", "broker_http", "tls"} & set(vars(app))
    finally:
        asyncio.run(app.aclose())


def test_a_discord_webhook_gets_the_shared_client(tmp_path: Path) -> None:
    url = "https://discord.invalid/api/webhooks/1/token"
    env = {"SKIMD__PATHS__DATA_DIR": str(tmp_path / "d"),
           "SKIMD__NOTIFICATIONS__DISCORD_WEBHOOK_URL": url}
    settings = bootstrap.settings_from(str(ROOT / "config" / "skimd.toml"), env)
    app = bootstrap.build(
        settings, access=bootstrap.Access.EXCLUSIVE, environ=env, create_database=True
    )
    try:
        assert app.notifier
        assert "http" in vars(app) and _verify_context(app.http) is app.tls
    finally:
        asyncio.run(app.aclose())
