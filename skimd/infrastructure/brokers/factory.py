"""The one place a broker kind name becomes a :class:`Broker`.

Builders are looked up by kind. ``ibkr`` is imported lazily from
``skimd.infrastructure.brokers.ibkr.facade.build_ibkr_broker`` so the demo never loads the
IBKR adapter (or fails because of it). Tests may pass extra builders, e.g. a fake kind.

``on_secret`` receives every secret the broker creates at run time (IBKR's live session
token) so the caller can add it to the log redactor; brokers without such secrets ignore it.

``shared_dir`` is a directory every skimd process of this installation shares, daemon and
commands alike (the data dir): account-wide state lives there, such as IBKR's pacing ledger
(IBKR counts requests per user, not per process). ``state_dir`` is given only to the holder
of the instance lock.

``calendar`` is the market's calendar built from ``[market]`` (zone, trading days, open and
close, early closes): brokers never assume a zone or session hours of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from skimd.clock import Clock
from skimd.config import Settings
from skimd.domain.calendar import MarketCalendar
from skimd.errors import ConfigurationError
from skimd.services.ports.broker import Broker, BrokerEvents, IdentifierCache

if TYPE_CHECKING:
    from skimd.infrastructure.brokers.demo.market import DemoMarket
    from skimd.infrastructure.brokers.demo.market_port import SimulatedMarket
    from skimd.infrastructure.brokers.demo.recorded import RecordedMarket
    from skimd.infrastructure.brokers.ibkr.rsa_keys import RsaKeys

SecretSink = Callable[[str], None]


class BrokerBuilder(Protocol):
    def __call__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        events: BrokerEvents,
        identifier_cache: IdentifierCache,
        calendar: MarketCalendar,
        http_client: httpx.AsyncClient | None,
        on_secret: SecretSink | None,
        state_dir: Path | None,
        shared_dir: Path | None,
    ) -> Broker: ...


def build_demo_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    calendar: MarketCalendar,
    http_client: httpx.AsyncClient | None = None,
    on_secret: SecretSink | None = None,
    state_dir: Path | None = None,
    shared_dir: Path | None = None,
) -> Broker:
    """The in-process simulated ASX, seeded from ``[demo]``; ``http_client`` and
    ``on_secret`` are unused (it makes no network calls and no secrets), and so is
    ``shared_dir`` (the simulated market has no account-wide request limits).

    With ``state_dir`` (the daemon's data dir, lock held) the paper account's book lives in
    ``demo-broker-<seed>.json`` there, so orders survive a daemon restart as they would at a
    real broker. Without it (``skimd broker check``) the book is in memory only."""
    from skimd.infrastructure.brokers.demo.book_store import book_file
    from skimd.infrastructure.brokers.demo.broker import DemoBroker

    demo = settings.demo
    cents = Decimal("0.01")
    market = build_demo_market(settings, calendar)
    return DemoBroker(
        market,
        clock,
        events=events,
        identifier_cache=identifier_cache,
        starting_cash=Decimal(str(demo.starting_cash)).quantize(cents),
        commission_per_order=Decimal(str(demo.commission_per_order)).quantize(cents),
        book_path=None if state_dir is None else book_file(state_dir, demo.seed),
    )


def build_recorded_market(settings: Settings, calendar: MarketCalendar) -> RecordedMarket:
    """Recorded days for a backtest (``--data recorded``): the tape, one-minute bars,
    daily bars and announcements kept in the trading database of ``settings`` (its data
    dir and passphrase), replayed on ``calendar``'s sessions. Give it to a
    :class:`~skimd.infrastructure.brokers.demo.broker.DemoBroker` as its market; call its
    ``close()`` when done (it keeps the database open to load each day when first asked).
    Raises what :func:`~skimd.infrastructure.database.open_trading_database` raises."""
    from skimd.infrastructure.brokers.demo.recorded import RecordedMarket
    from skimd.infrastructure.database import open_trading_database
    from skimd.infrastructure.database.recordings import SqlRecordings

    db = open_trading_database(settings, create=False)
    return RecordedMarket(SqlRecordings(db.unit_of_work, db.close), calendar=calendar)


def build_demo_market(settings: Settings, calendar: MarketCalendar) -> DemoMarket:
    """The seeded synthetic ASX of ``[demo]`` (seed, universe size) on ``calendar``.
    Deterministic and in memory only: one can serve many days (a backtest keeps one for
    its run, so each day's plans and paths are drawn once, not once per day's App)."""
    from skimd.infrastructure.brokers.demo.market import DemoMarket

    return DemoMarket(
        seed=settings.demo.seed, universe_size=settings.demo.universe_size, calendar=calendar
    )


def build_replay_broker(
    settings: Settings, market: SimulatedMarket, clock: Clock, *, state_dir: Path
) -> Broker:
    """The demo broker over ``market`` (e.g. :func:`build_recorded_market`'s) for a replay:
    its paper account (``[demo]`` starting cash and commission) in a book file in
    ``state_dir``, kept from day to day as the demo's is, so positions carry; its events are
    dropped and conids cached in memory (a replay alerts nothing about its broker)."""
    from skimd.infrastructure.brokers.demo.book_store import book_file
    from skimd.infrastructure.brokers.demo.broker import DemoBroker
    from skimd.infrastructure.brokers.events import NullBrokerEvents
    from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache

    cents = Decimal("0.01")
    return DemoBroker(
        market,
        clock,
        events=NullBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        starting_cash=Decimal(str(settings.demo.starting_cash)).quantize(cents),
        commission_per_order=Decimal(str(settings.demo.commission_per_order)).quantize(cents),
        book_path=book_file(state_dir, market.seed),
    )


def build_ibkr_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    calendar: MarketCalendar,
    http_client: httpx.AsyncClient | None = None,
    on_secret: SecretSink | None = None,
    state_dir: Path | None = None,
    shared_dir: Path | None = None,
    rsa_keys: RsaKeys | None = None,
) -> Broker:
    """Delegates to the IBKR adapter, imported only when this kind is asked for;
    ``on_secret`` gets each new live session token. With ``shared_dir`` the pacing state
    is the ledger file there, shared with every other skimd process of the account.
    ``rsa_keys``: who does the RSA private-key work (bootstrap binds a child-process one
    for every skimd process); None does it in this process."""
    from skimd.infrastructure.brokers.ibkr.facade import build_ibkr_broker as build
    from skimd.infrastructure.brokers.ibkr.pacing_ledger import PACING_FILE

    if rsa_keys is None:
        from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys

        rsa_keys = InProcessRsaKeys()

    broker: Broker = build(
        settings,
        clock=clock,
        events=events,
        identifier_cache=identifier_cache,
        calendar=calendar,
        rsa_keys=rsa_keys,
        http_client=http_client,
        on_token=on_secret,
        pacing_file=None if shared_dir is None else shared_dir / PACING_FILE,
    )
    return broker


DEFAULT_BUILDERS: Mapping[str, BrokerBuilder] = {
    "demo": build_demo_broker,
    "ibkr": build_ibkr_broker,
}


class BrokerFactory:
    """``BrokerFactory().create("demo", settings, clock=..., events=..., identifier_cache=...,
    calendar=...)``.

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
        calendar: MarketCalendar,
        http_client: httpx.AsyncClient | None = None,
        on_secret: SecretSink | None = None,
        state_dir: Path | None = None,
        shared_dir: Path | None = None,
    ) -> Broker:
        """Build a broker of ``kind``; an unknown kind is a ConfigurationError (exit 78).

        ``on_secret`` (e.g. ``redactor.add``) receives run-time secrets such as IBKR's live
        session token, each time a new one is made."""
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
            calendar=calendar,
            http_client=http_client,
            on_secret=on_secret,
            state_dir=state_dir,
            shared_dir=shared_dir,
        )
