"""How IbkrHttp treats IBKR's "no bridge" answer: a session condition handed to the
session guard, then an idempotent call is sent again and an order POST is not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.auth import IbkrOAuth
from skimd.infrastructure.brokers.ibkr.credentials import load_credentials
from skimd.infrastructure.brokers.ibkr.requests import (
    IbkrHttp,
    IbkrRequestError,
    NoBridgeError,
    is_no_bridge,
    needs_bridge,
)
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from tests.fakes.ibkr_server import SNAPSHOT_PATH, TEST_BASE_URL, FakeIbkr, autojump

PARAMS = {"conids": "1", "fields": "31"}
ORDER_PATH = "/iserver/account/DU1234567/orders"


@dataclass
class _Guard:
    """A SessionGuard that re-opens the fake's bridge when ``works``."""

    fake: FakeIbkr
    works: bool = True
    recovered: list[tuple[int, str]] = field(default_factory=list)
    checks: int = 0

    async def before_call(self) -> int:
        self.checks += 1
        return 7

    async def recover(self, epoch: int, reason: str) -> bool:
        self.recovered.append((epoch, reason))
        if self.works:
            self.fake.authenticated = True
            self.fake.accounts_queried = True
        return self.works


def _http(fake: FakeIbkr, tmp_path: Path, client: httpx.AsyncClient) -> IbkrHttp:
    creds = load_credentials(fake.keys.settings(tmp_path, TEST_BASE_URL), InProcessRsaKeys())
    auth = IbkrOAuth(
        creds, keys=InProcessRsaKeys(), clock=fake.clock,
        lst_url=TEST_BASE_URL + "/oauth/live_session_token",
    )
    return IbkrHttp(client, base_url=TEST_BASE_URL, auth=auth, clock=fake.clock,
                    events=RecordingBrokerEvents())


def test_no_bridge_is_recognised_by_status_and_text() -> None:
    assert is_no_bridge(IbkrRequestError("x", 400, "Bad Request: no bridge"))
    assert not is_no_bridge(IbkrRequestError("x", 400, "order 1001 not found"))
    assert not is_no_bridge(IbkrRequestError("x", 404, "no bridge"))
    assert not is_no_bridge(ValueError("no bridge"))


def test_only_brokerage_calls_need_the_bridge() -> None:
    assert needs_bridge(SNAPSHOT_PATH) and needs_bridge("iserver/account/order/status/1")
    assert not needs_bridge("/iserver/auth/status")
    assert not needs_bridge("/iserver/auth/ssodh/init")
    assert not needs_bridge("/portfolio/accounts") and not needs_bridge("/tickle")


async def test_idempotent_call_is_retried_once_after_the_guard_recovers(
    fake: FakeIbkr, tmp_path: Path
) -> None:
    guard = _Guard(fake)
    async with httpx.AsyncClient(transport=fake.transport()) as client, autojump(fake.clock):
        http = _http(fake, tmp_path, client)
        http.attach_session(guard)
        body = await http.get(SNAPSHOT_PATH, PARAMS)
    assert isinstance(body, list) and body[0]["conid"] == 1
    assert [epoch for epoch, _ in guard.recovered] == [7]
    assert "no bridge" in guard.recovered[0][1]
    assert len(fake.calls_to(SNAPSHOT_PATH)) == 2 and fake.bridge.no_bridge_answers == 1


async def test_order_post_is_not_resent_after_no_bridge(fake: FakeIbkr, tmp_path: Path) -> None:
    guard = _Guard(fake)
    async with httpx.AsyncClient(transport=fake.transport()) as client, autojump(fake.clock):
        http = _http(fake, tmp_path, client)
        http.attach_session(guard)
        with pytest.raises(NoBridgeError, match="not resent") as err:
            await http.post(ORDER_PATH, {"orders": [{"conid": 1}]})
    assert err.value.recovered
    assert len(fake.calls_to(ORDER_PATH)) == 1 and fake.order_posts == 0


async def test_no_retry_when_the_session_does_not_come_back(
    fake: FakeIbkr, tmp_path: Path
) -> None:
    guard = _Guard(fake, works=False)
    async with httpx.AsyncClient(transport=fake.transport()) as client, autojump(fake.clock):
        http = _http(fake, tmp_path, client)
        http.attach_session(guard)
        with pytest.raises(NoBridgeError) as err:
            await http.get(SNAPSHOT_PATH, PARAMS)
        await http.get("/portfolio/accounts")  # not a brokerage call: no guard
    assert not err.value.recovered
    assert len(fake.calls_to(SNAPSHOT_PATH)) == 1
    assert guard.checks == 1 and len(guard.recovered) == 1
