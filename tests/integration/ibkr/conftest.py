"""IBKR test fixtures: consumer keys (generated once per session; 2048-bit RSA takes a
moment) and a fake IBKR on a SimulatedClock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys

START = datetime(2025, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))


@pytest.fixture(scope="session")
def ibkr_keys() -> FakeIbkrKeys:
    return FakeIbkrKeys.generate()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def fake(ibkr_keys: FakeIbkrKeys, clock: SimulatedClock) -> FakeIbkr:
    return FakeIbkr(ibkr_keys, clock=clock)
