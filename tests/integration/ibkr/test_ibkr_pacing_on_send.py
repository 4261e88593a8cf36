"""Pacing as IBKR sees it: turns are taken when a request is sent (after the LST exchange
and signing, not before), and a margin covers a slower trip of the previous request; both
checked by the fake's own limiter (IBKR's documented limits, arrival times at the server).
And one ``/portfolio/accounts`` call per connection, not one per method that needs it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from skimd.clock import SimulatedClock
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.auth import LST_PATH, IbkrOAuth
from skimd.infrastructure.brokers.ibkr.credentials import load_credentials
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from tests.fakes.ibkr_server import TEST_BASE_URL, FakeIbkr, autojump, make_broker


class SlowRoad(httpx.AsyncBaseTransport):
    """The network between client and fake: the next request to a path (relative to the
    base URL) listed in ``delays`` spends that many clock seconds reaching the server."""

    def __init__(self, fake: FakeIbkr, clock: SimulatedClock, delays: Mapping[str, float]):
        self._fake = fake
        self._clock = clock
        self._delays = dict(delays)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1/api")
        delay = self._delays.pop(path, 0.0)
        if delay:
            await self._clock.sleep(delay)
        await request.aread()
        return self._fake.handle(request)


def _http(fake: FakeIbkr, tmp_path: Path, client: httpx.AsyncClient) -> IbkrHttp:
    creds = load_credentials(fake.keys.settings(tmp_path, TEST_BASE_URL), InProcessRsaKeys())
    auth = IbkrOAuth(
        creds, keys=InProcessRsaKeys(), clock=fake.clock, lst_url=TEST_BASE_URL + LST_PATH
    )
    return IbkrHttp(
        client, base_url=TEST_BASE_URL, auth=auth, clock=fake.clock,
        events=RecordingBrokerEvents(),
    )


def _gaps(fake: FakeIbkr, path: str) -> list[float]:
    stamps = [c.at for c in fake.calls_to(path)]
    return [b - a for a, b in itertools.pairwise(stamps)]


@pytest.mark.parametrize(
    "slow",
    [
        pytest.param({LST_PATH: 2.0}, id="the LST exchange before the first call takes 2 s"),
        pytest.param({"/portfolio/accounts": 0.3}, id="the first call travels 0.3 s longer"),
    ],
)
async def test_two_calls_of_a_one_per_five_seconds_class_arrive_at_least_five_seconds_apart(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path, slow: Mapping[str, float]
) -> None:
    assert fake.limiter is not None
    async with (
        httpx.AsyncClient(transport=SlowRoad(fake, clock, slow)) as client,
        autojump(clock),
    ):
        http = _http(fake, tmp_path, client)
        await http.get("/portfolio/accounts")
        await http.get("/portfolio/accounts")
    assert fake.limiter.refusals == []
    assert min(_gaps(fake, "/portfolio/accounts")) >= 5.0


async def test_connect_and_accounts_read_portfolio_accounts_once(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        summaries = await broker.accounts()
        await broker.close()
    await client.aclose()
    assert [s.account_id for s in summaries] == ["DU1234567"]
    assert len(fake.calls_to("/portfolio/accounts")) == 1
