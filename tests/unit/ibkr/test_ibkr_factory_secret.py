"""BrokerFactory forwards ``on_secret``: IBKR's live session token reaches the redactor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from skimd.clock import SimulatedClock
from skimd.config import BrokerSettings, Settings
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.factory import BrokerFactory
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.logs import MASK, SecretRedactor
from tests.fakes.ibkr_server import TEST_BASE_URL, FakeIbkr


async def test_the_live_session_token_reaches_on_secret_and_the_redactor(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    settings = Settings(
        broker=BrokerSettings(kind="ibkr"),
        ibkr=fake.keys.settings(tmp_path, TEST_BASE_URL),
    )
    tokens: list[str] = []
    redactor = SecretRedactor()

    def on_secret(value: str) -> None:
        tokens.append(value)
        redactor.add(value)

    client = httpx.AsyncClient(transport=fake.transport())
    broker = BrokerFactory().create(
        "ibkr",
        settings,
        clock=clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        calendar=AsxCalendar("Australia/Sydney"),
        http_client=client,
        on_secret=on_secret,
    )
    try:
        await broker.connect()
        assert fake.lst is not None and tokens == [fake.lst]
        assert redactor.scrub(f"signed with {fake.lst}") == f"signed with {MASK}"

        first = fake.lst
        fake.expire_lst()  # IBKR forgets the token: the next call gets a new one
        await clock.run_until(clock.now() + timedelta(minutes=2))
        await broker.accounts()
        assert fake.lst is not None and fake.lst != first
        assert tokens == [first, fake.lst]
        assert MASK in redactor.scrub(fake.lst) and fake.lst not in redactor.scrub(fake.lst)
    finally:
        await broker.close()
        await client.aclose()


async def test_the_demo_broker_accepts_on_secret_and_makes_no_secrets(
    clock: SimulatedClock,
) -> None:
    got: list[str] = []
    broker = BrokerFactory().create(
        "demo",
        Settings.model_validate({"demo": {"universe_size": 20}}),
        clock=clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        calendar=AsxCalendar("Australia/Sydney"),
        on_secret=got.append,
    )
    assert (await broker.connect()).authenticated
    await broker.close()
    assert got == []
