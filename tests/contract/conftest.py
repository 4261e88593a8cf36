"""Fixtures for the broker contract suite: every broker implementation must pass
``test_broker_contract.py`` unchanged.

How it works: the ``broker_env`` fixture is parametrised over :data:`IMPLEMENTATIONS` (ids
are broker kinds). Each entry is an async context manager factory taking the test's
:class:`SimulatedClock` (starting Tuesday 2025-03-04 10:30 Sydney, market open) and yielding
a :class:`BrokerEnv`. ``broker`` is the env's broker, already connected.

To add an implementation (e.g. the IBKR facade against its fake server):

1. create ``tests/contract/ibkr_contract_env.py`` defining
   ``@asynccontextmanager async def ibkr_env(clock) -> AsyncIterator[BrokerEnv]`` that starts
   the fake server (loopback or ``httpx.MockTransport``), builds the facade with
   ``build_ibkr_broker(settings, clock=clock, events=events, identifier_cache=cache,
   calendar=calendar, rsa_keys=..., http_client=client)`` and yields ``BrokerEnv(...)`` (from
   ``broker_contract_env``);
   tear everything down after the yield;
2. that's all: this conftest registers ``ibkr_env`` as the ``"ibkr"`` parameter when the
   module exists. Any other kind: add it to ``IMPLEMENTATIONS`` the same way.

What an env must provide:

- ``symbols``: at least two tickers the broker knows, tradeable now with cash
  ``>= 200 x their price``; ``unknown_symbol``: a ticker it must reject;
- ``advance(seconds)``: let that much market time pass (the demo moves the clock; a fake
  server may also advance its own order book). Market orders must fill within
  ``FILL_PATIENCE_S`` seconds of advancing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from broker_contract_env import IMPLEMENTATIONS, START, BrokerEnv

from skimd.clock import SimulatedClock
from skimd.services.ports.broker import Broker

try:
    from ibkr_contract_env import ibkr_env
except ModuleNotFoundError as exc:  # the IBKR env is optional until it is written
    if exc.name != "ibkr_contract_env":
        raise
else:
    IMPLEMENTATIONS["ibkr"] = ibkr_env


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def broker_env(request: pytest.FixtureRequest) -> AsyncIterator[BrokerEnv]:
    clock = SimulatedClock(START)
    async with IMPLEMENTATIONS[request.param](clock) as env:
        yield env


@pytest.fixture
async def broker(broker_env: BrokerEnv) -> Broker:
    await broker_env.broker.connect()
    return broker_env.broker
