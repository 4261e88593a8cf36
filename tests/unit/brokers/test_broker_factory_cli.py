"""BrokerFactory kinds and errors; ``skimd broker check`` output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from skimd.clock import Clock, SimulatedClock
from skimd.commands import broker as broker_cmd
from skimd.config import Settings, load_settings
from skimd.domain.calendar import MarketCalendar
from skimd.errors import ConfigurationError
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import NullBrokerEvents
from skimd.infrastructure.brokers.factory import BrokerFactory
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.broker import Broker, BrokerEvents, IdentifierCache

CLOCK = SimulatedClock(datetime(2025, 3, 4, 11, 0, tzinfo=ZoneInfo("Australia/Sydney")))


def create(factory: BrokerFactory, kind: str, settings: Settings | None = None) -> Broker:
    return factory.create(
        kind,
        settings or Settings(),
        clock=CLOCK,
        events=NullBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        calendar=AsxCalendar("Australia/Sydney"),
    )


async def test_demo_kind_builds_a_seeded_demo_broker() -> None:
    settings = Settings.model_validate(
        {"demo": {"seed": 5, "universe_size": 50, "starting_cash": 2500.5}}
    )
    broker = create(BrokerFactory(), " Demo ", settings)
    assert isinstance(broker, DemoBroker) and broker.kind == "demo"
    assert len(broker.market.tickers) == 50 and broker.market.seed == 5
    await broker.connect()
    assert (await broker.account_summary()).cash == 2500.5


def test_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        create(BrokerFactory(), "x")
    assert str(err.value) == "[broker] kind: unknown broker 'x'; valid kinds: demo, ibkr"


def test_extra_builders_add_kinds() -> None:
    made: list[str] = []

    def build_fake(
        settings: Settings,
        *,
        clock: Clock,
        events: BrokerEvents,
        identifier_cache: IdentifierCache,
        calendar: MarketCalendar,
        http_client: httpx.AsyncClient | None,
        on_secret: Callable[[str], None] | None,
        state_dir: Path | None,
        shared_dir: Path | None,
    ) -> Broker:
        made.append(settings.source)
        return create(BrokerFactory(), "demo")

    factory = BrokerFactory(extra_builders={"fake": build_fake})
    assert factory.kinds == ["demo", "fake", "ibkr"]
    assert create(factory, "fake").kind == "demo" and made == ["<defaults>"]


def run_check(config: Path, *flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    broker_cmd.register(parser.add_subparsers(dest="command"), [common])
    return parser.parse_args(["broker", "check", "--config", str(config), *flags])


def test_broker_check_prints_session_account_quote_and_pacing(
    make_config: Callable[..., Path], clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = run_check(make_config("[demo]\nuniverse_size = 40\n"))
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "broker: demo  session: authenticated" in out
    assert "account DU-DEMO (paper): cash 100000.00 AUD" in out
    assert "quote BHP (conid " in out and "pacing: global=unlimited" in out


def test_broker_check_json(
    make_config: Callable[..., Path], clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = run_check(make_config(), "--json", "--symbol", "cba")
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["broker"] == "demo" and report["session"]["authenticated"] is True
    assert report["quote"]["symbol"] == "CBA" and report["accounts"][0]["paper"] is True
    assert report["pacing"] == {"global": "unlimited"}


def test_broker_check_unknown_kind_fails_with_one_line(
    make_config: Callable[..., Path], clean_env: None
) -> None:
    config = make_config('[broker]\nkind = "nope"\n')
    args = run_check(config)
    assert load_settings(config).broker.kind == "nope"
    with pytest.raises(ConfigurationError, match="unknown broker 'nope'"):
        args.handler(args)
