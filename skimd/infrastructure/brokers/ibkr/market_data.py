"""IBKR market data: contract search, snapshots, daily and intraday history, the gap scanner.

Sources: IBKR's OpenAPI spec "IB REST API" v2.29.0 (https://api.ibkr.com/gw/api/v3/api-docs,
"[spec]") and IBKR's Web API documentation
(https://www.interactivebrokers.com/campus/ibkr-api-page/webapi-doc/, "[doc]").

- Snapshots: the first request for a conid only subscribes ([doc] "Top-of-Book Snapshots":
  the pre-flight "will not deliver any data, but rather makes the stream available"). Every
  new conid is subscribed, then polled (bounded by ``snapshot_poll_attempts``) until the
  fields arrive; conids still empty come back as Quotes without data. At most 100 conids a
  call: our own batch size (no IBKR page reached states a per-call limit).
- History (daily and intraday bars, see :mod:`.history` for the parameters and units): every
  request holds one of the ``history`` pacer's 5 concurrent slots ([doc] "Additional Usage
  Limits": "/iserver/marketdata/history GET 5 concurrent requests"; a sixth in flight draws
  429), and a 429 there pauses history only.
- Scanner: ``POST /iserver/scanner/run`` with ``instrument``/``location``/``type``/``filter``,
  whose valid values ``GET /iserver/scanner/params`` lists (``instrument_list``,
  ``location_tree``, ``scan_type_list``, ``filter_list``) ([spec]; IBind's ``scanner_mixin.py``,
  github.com/Voyz/ibind). Our defaults: instrument ``STOCK.HK`` (in [spec]'s own
  ``scan_type_list`` example; "Asian stocks" in IB's API reference as copied by
  github.com/ib-ruby/ib-ruby ``lib/ib/messages/outgoing.rb``), location ``STK.HK.ASX``
  ("Australian Stocks", same reference; not in any IBKR page reached) and type
  ``HIGH_OPEN_GAP`` (not in any IBKR page reached): ``[ibkr] scanner_*`` can change all three
  once ``/iserver/scanner/params`` shows otherwise. ``priceAbove`` is in [spec]'s example;
  ``volumeAbove`` and its unit for ASX are not documented, which is why the domain GapFilter
  re-screens every row on snapshot volume. IBKR returns at most 50 contracts a scan (IBind)
  and allows 1 run a second ([doc] rate limits).
- Session times come from the market calendar: today's daily bar counts once
  :data:`DAILY_BAR_SETTLES` has passed after today's close, and a past session's intraday
  history is asked for ending :data:`INTRADAY_HISTORY_ENDS` after that session's close, so an
  early-close day is handled like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from skimd.clock import Clock
from skimd.config import IbkrSettings
from skimd.domain.calendar import MarketCalendar
from skimd.domain.gaps import GapFilter
from skimd.domain.market import Bar, Contract, GapCandidate, Quote
from skimd.errors import InvalidInputError
from skimd.infrastructure.brokers.ibkr import history, mapping
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.services.ports.broker import INTRADAY_BAR_MINUTES, IdentifierCache

SNAPSHOT_BATCH = 100
# IBKR builds the day's daily bar from the closing auction, which runs for ~10 minutes
# after the close; before close + this, today's bar may still change and is left out.
DAILY_BAR_SETTLES = timedelta(minutes=15)
# ``startTime`` of a past session's intraday request: after the closing auction, so
# ``period=1d`` reaching back from it covers the whole session.
INTRADAY_HISTORY_ENDS = timedelta(hours=1)


class IbkrMarketData:
    """The market-data endpoints for one connected account. ``symbols`` (conid → ticker)
    is shared with the order side, which names orders by it."""

    def __init__(
        self,
        http: IbkrHttp,
        *,
        settings: IbkrSettings,
        clock: Clock,
        calendar: MarketCalendar,
        identifier_cache: IdentifierCache,
        symbols: dict[int, str],
    ) -> None:
        self._http = http
        self._settings = settings
        self._clock = clock
        self._calendar = calendar
        self._cache = identifier_cache
        self._symbols = symbols
        self._subscribed: set[int] = set()

    async def resolve(self, symbols: Sequence[str]) -> dict[str, Contract]:
        now = self._clock.now()
        out: dict[str, Contract] = {}
        unknown: list[str] = []
        for symbol in dict.fromkeys(s.strip().upper() for s in symbols):
            conid = self._cache.get(symbol, now)
            name = None
            if conid is None:
                conid, name = await self._search(symbol)
                if conid is None:
                    unknown.append(symbol)
                    continue
                expires = now + timedelta(days=self._settings.conid_cache_days)
                self._cache.put(symbol, conid, expires)
            self._symbols[conid] = symbol
            out[symbol] = Contract(symbol=symbol, conid=conid, name=name)
        if unknown:
            raise InvalidInputError(f"IBKR: unknown ASX ticker(s) {', '.join(unknown)}")
        return out

    async def _search(self, symbol: str) -> tuple[int | None, str | None]:
        rows = await self._http.get(
            "/iserver/secdef/search", {"symbol": symbol, "secType": "STK"}
        )
        if not isinstance(rows, list):
            return None, None
        for row in rows:
            if str(row.get("symbol", "")).upper() != symbol:
                continue
            exchanges = " ".join(
                str(s.get("exchange", "")) for s in row.get("sections") or [] if s
            )
            if row.get("description") == "ASX" or "ASX" in exchanges.split(";"):
                try:
                    return int(row["conid"]), row.get("companyName")
                except (KeyError, TypeError, ValueError):
                    continue
        return None, None

    async def snapshots(self, conids: Sequence[int]) -> list[Quote]:
        wanted = list(dict.fromkeys(int(c) for c in conids))
        rows: dict[int, dict[str, Any]] = {}
        fresh = [c for c in wanted if c not in self._subscribed]
        for batch in _batches(fresh, SNAPSHOT_BATCH):  # the pre-flight: subscribe only
            await self._snapshot_call(batch, rows)
        missing = wanted
        for attempt in range(self._settings.snapshot_poll_attempts):
            if attempt > 0:
                await self._clock.sleep(self._settings.snapshot_poll_interval_s)
            for batch in _batches(missing, SNAPSHOT_BATCH):
                await self._snapshot_call(batch, rows)
            missing = [c for c in missing if not mapping.snapshot_has_data(rows.get(c, {}))]
            if not missing:
                break
        now = self._clock.now()
        return [
            mapping.quote_from_snapshot(
                rows.get(c) or {"conid": c}, self._symbols.get(c, ""), now
            )
            for c in (int(c) for c in conids)
        ]

    async def _snapshot_call(self, batch: list[int], rows: dict[int, dict[str, Any]]) -> None:
        body = await self._http.get(
            "/iserver/marketdata/snapshot",
            {"conids": ",".join(map(str, batch)), "fields": ",".join(mapping.SNAPSHOT_FIELDS)},
        )
        self._subscribed.update(batch)
        for row in body if isinstance(body, list) else []:
            try:
                conid = int(row["conid"])
            except (KeyError, TypeError, ValueError):
                continue
            merged = {**rows.get(conid, {}), **row}
            rows[conid] = merged
            symbol = row.get(mapping.F_SYMBOL)
            if symbol:
                self._symbols.setdefault(conid, str(symbol))

    async def daily_bars(self, conid: int, days: int) -> list[Bar]:
        """The last ``days`` complete sessions: today's bar only once it has settled after
        today's close (never on a day the calendar has no session)."""
        if days <= 0:
            return []
        period = min(1000, math.ceil(days * 1.5) + 5)
        body = await self._history(
            {"conid": str(conid), "period": f"{period}d", "bar": "1d", "outsideRth": "false"}
        )
        symbol = self._symbols.get(conid) or str((body or {}).get("symbol") or conid)
        bars = history.daily_bars(body, symbol, self._calendar.zone)
        now = self._clock.now()
        today = now.astimezone(self._calendar.zone).date()
        session = self._calendar.session(today)
        if session is None or now < session.close_at + DAILY_BAR_SETTLES:
            bars = [b for b in bars if b.day < today]
        return bars[-days:]

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        """One history request, ``period=1d``. Today: no ``startTime``, so the period ends
        at IBKR's now (an explicit "now" can miss the newest bar: see :mod:`.history`). A
        past session: ``startTime`` (UTC) = its close + INTRADAY_HISTORY_ENDS, the reference
        point IBKR's period reaches back from by default. A day without a session has no
        bars (nothing is asked). Rows of another date and rows starting after our clock are
        dropped whatever IBKR sends, so neither a neighbouring session nor clock skew leaks
        into the result."""
        if minutes not in INTRADAY_BAR_MINUTES:
            raise InvalidInputError(
                f"IBKR: intraday bar of {minutes} minutes is not one of "
                f"{', '.join(map(str, INTRADAY_BAR_MINUTES))}"
            )
        now = self._clock.now()
        zone = self._calendar.zone
        session = self._calendar.session(day)
        if day > now.astimezone(zone).date() or session is None:
            return []
        params = {
            "conid": str(conid),
            "exchange": "ASX",
            "period": "1d",
            "bar": history.bar_size(minutes),
            "outsideRth": "false",
        }
        if day < now.astimezone(zone).date():
            params["startTime"] = history.start_time(session.close_at + INTRADAY_HISTORY_ENDS)
        body = await self._history(params)
        symbol = self._symbols.get(conid) or str((body or {}).get("symbol") or conid)
        bars = history.intraday_bars(body, symbol, day, zone)
        return [b for b in bars if b.at is not None and b.at <= now]

    async def _history(self, params: dict[str, str]) -> Any:
        """``/iserver/marketdata/history`` inside one of its concurrent-request slots
        (IBKR serves at most 5 at once and answers more with 429)."""
        try:
            pacer = self._http.pacer("history")
        except KeyError:  # limits configured without a history class: global pacing only
            return await self._http.get("/iserver/marketdata/history", params)
        async with pacer.slot():
            return await self._http.get("/iserver/marketdata/history", params)

    async def scan_gaps(
        self, min_gap_pct: Decimal, min_price: Decimal, min_volume: int
    ) -> list[GapCandidate]:
        """IBKR's scanner narrows the market to liquid movers (its own price and volume
        filters), then the snapshots of its rows go through the domain's gap screen.

        A row names its contract by ``con_id`` (int) and ``conidex`` (string, "conid" or
        "conid@EXCHANGE") and its ticker by ``symbol`` ([spec] ``/iserver/scanner/run``
        response)."""
        screen = GapFilter(min_gap_pct, min_price, min_volume)
        body = await self._http.post(
            "/iserver/scanner/run",
            {
                "instrument": self._settings.scanner_instrument,
                "location": self._settings.scanner_location,
                "type": self._settings.scanner_type,
                "filter": [
                    {"code": "priceAbove", "value": float(screen.min_price)},
                    {"code": "volumeAbove", "value": screen.min_volume},
                ],
            },
            idempotent=True,
        )
        contracts = (body or {}).get("contracts", []) if isinstance(body, dict) else []
        conids: list[int] = []
        for row in contracts:
            try:
                conid = int(row.get("con_id") or row["conidex"].split("@")[0])
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            conids.append(conid)
            if row.get("symbol"):
                self._symbols.setdefault(conid, str(row["symbol"]).upper())
        day = self._clock.now().astimezone(self._calendar.zone).date()
        # snapshots() names each quote by the scanner row's symbol when IBKR's snapshot
        # leaves it out
        return screen.select(await self.snapshots(conids) if conids else [], day)


def _batches(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
