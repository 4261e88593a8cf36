"""The one place a broker kind name becomes a :class:`Broker`.

Builders are looked up by kind. ``ibkr`` is imported lazily from
``skimd.infrastructure.brokers.ibkr.facade.build_ibkr_broker`` so the demo never loads the
IBKR adapter (or fails because of it). Tests may pass extra builders, e.g. a fake kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import httpx

from skimd.clock import Clock
from skimd.config import Settings
from skimd.errors import ConfigurationError
from skimd.infrastructure.brokers.protocols import Broker, BrokerEvents, IdentifierCache


class BrokerBuilder(Protocol):
    def __call__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        events: BrokerEvents,
        identifier_cache: IdentifierCache,
        http_client: httpx.AsyncClient | None,
    ) -> Broker: ...


def build_demo_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    http_client: httpx.AsyncClient | None = None,
) -> Broker:
    """The in-process simulated ASX, seeded from ``[demo]``; ``http_client`` is unused."""
    from skimd.infrastructure.brokers.demo.broker import DemoBroker
    from skimd.infrastructure.brokers.demo.market import DemoMarket

    demo = settings.demo
    cents = Decimal("0.01")
    market = DemoMarket(seed=demo.seed, universe_size=demo.universe_size)
    return DemoBroker(
        market,
        clock,
        events=events,
        identifier_cache=identifier_cache,
        starting_cash=Decimal(str(demo.starting_cash)).quantize(cents),
        commission_per_order=Decimal(str(demo.commission_per_order)).quantize(cents),
    )


def build_ibkr_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    http_client: httpx.AsyncClient | None = None,
) -> Broker:
    """Delegates to the IBKR adapter, imported only when this kind is asked for."""
    from skimd.infrastructure.brokers.ibkr.facade import build_ibkr_broker as build

    broker: Broker = build(
        settings,
        clock=clock,
        events=events,
        identifier_cache=identifier_cache,
        http_client=http_client,
    )
    return broker


DEFAULT_BUILDERS: Mapping[str, BrokerBuilder] = {
    "demo": build_demo_broker,
    "ibkr": build_ibkr_broker,
}


class BrokerFactory:
    """``BrokerFactory().create("demo", settings, clock=..., events=..., identifier_cache=...)``.

    ``builders`` replaces the default table (``demo``, ``ibkr``); ``extra_builders`` adds to it.
    """

    def __init__(
        self,
        builders: Mapping[str, BrokerBuilder] | None = None,
        *,
        extra_builders: Mapping[str, BrokerBuilder] | None = None,
    ) -> None:
        self._builders: dict[str, BrokerBuilder] = dict(
            DEFAULT_BUILDERS if builders is None else builders
        )
        self._builders.update(extra_builders or {})

    @property
    def kinds(self) -> list[str]:
        return sorted(self._builders)

    def create(
        self,
        kind: str,
        settings: Settings,
        *,
        clock: Clock,
        events: BrokerEvents,
        identifier_cache: IdentifierCache,
        http_client: httpx.AsyncClient | None = None,
    ) -> Broker:
        """Build a broker of ``kind``; an unknown kind is a ConfigurationError (exit 78)."""
        builder = self._builders.get(kind.strip().lower())
        if builder is None:
            raise ConfigurationError(
                f"[broker] kind: unknown broker {kind!r}; valid kinds: {', '.join(self.kinds)}"
            )
        return builder(
            settings,
            clock=clock,
            events=events,
            identifier_cache=identifier_cache,
            http_client=http_client,
        )
