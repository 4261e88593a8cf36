"""The text frames of IBKR's websocket ``/ws``: the ones we send, the ones we read, and the
book that merges market-data deltas into whole quotes.

What IBKR documents ("Websockets" in https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/
and https://interactivebrokers.github.io/cpwebapi/RealtimeSubscription.html; IBind's
``IbkrWsClient``, https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_ws_client.py,
reads the same messages):

- We send ``smd+CONID+{"fields":["31",...]}`` (subscribe; the field tags are the
  ``/iserver/marketdata/snapshot`` ones, as JSON strings), ``umd+CONID+{}`` (unsubscribe),
  ``tic`` (ping the session, at least once a minute) and, when the socket answers
  ``{"message": "waiting for session"}``, ``{"session": "<the /tickle session>"}``.
- IBKR sends JSON objects with a ``topic``: ``system`` (``success``: the username once on
  connect; ``hb``: a heartbeat in unix ms about every 10 s), ``sts`` (``args.authenticated``,
  on connect and whenever it changes), ``smd+CONID`` (market data), ``tic``, ``act``,
  ``ntf``, ``blt``; and a few without a topic (``message``, ``error``).
- Market-data messages carry only the fields that changed since the previous one: the
  last full picture is the merge of every message since the subscription.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skimd.domain.market import Quote
from skimd.infrastructure.brokers.ibkr import mapping

TIC = "tic"
WAITING_FOR_SESSION = "waiting for session"
# the snapshot's fields: the stream's quotes must read exactly like the polled ones
STREAM_FIELDS = mapping.SNAPSHOT_FIELDS
_HOUSEKEEPING = frozenset({"conid", "conidEx", "_updated", "topic", "server_id", "6119", "6509"})


def subscribe_frame(conid: int, fields: Iterable[str] = STREAM_FIELDS) -> str:
    return f"smd+{int(conid)}+" + json.dumps({"fields": [str(f) for f in fields]},
                                                separators=(",", ":"))


def unsubscribe_frame(conid: int) -> str:
    return f"umd+{int(conid)}+{{}}"


def session_frame(session: str) -> str:
    return json.dumps({"session": session})


# -- what IBKR sends ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketData:
    """One ``smd`` message: the fields it carries (a delta), keyed by tag."""

    conid: int
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    at_ms: int


@dataclass(frozen=True, slots=True)
class Greeting:
    """``system`` ``success``: the socket is open for this username."""


@dataclass(frozen=True, slots=True)
class AuthStatus:
    """``sts``: whether the brokerage session is authenticated (None: not said)."""

    authenticated: bool | None
    competing: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class WaitingForSession:
    """The socket has no session cookie it accepts; it wants ``{"session": ...}``."""


@dataclass(frozen=True, slots=True)
class ServerError:
    text: str
    conid: int | None = None


@dataclass(frozen=True, slots=True)
class Other:
    """Anything else (``tic`` answers, ``act``, ``ntf``, ``blt``, unknown topics)."""

    topic: str


Message = MarketData | Heartbeat | Greeting | AuthStatus | WaitingForSession | ServerError | Other


def parse(text: str | bytes) -> Message:
    """One frame → a :data:`Message`; anything unreadable is :class:`Other` (never raises:
    IBKR is known to send odd bytes, and one bad frame must not end the stream)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        return Other(text[:20])
    if not isinstance(body, dict):
        return Other("?")
    topic = str(body.get("topic") or "")
    conid = _conid(topic, body)
    if body.get("error") not in (None, ""):
        return ServerError(str(body["error"])[:200], conid)
    if topic.startswith("smd+"):
        if conid is None:
            return Other(topic)
        fields = {k: v for k, v in body.items() if k not in _HOUSEKEEPING}
        if "_updated" in body:
            fields["_updated"] = body["_updated"]
        return MarketData(conid, fields)
    if topic == "system":
        if isinstance(body.get("hb"), int | float):
            return Heartbeat(int(body["hb"]))
        if body.get("success"):
            return Greeting()
        return Other(topic)
    if topic == "sts":
        args = body.get("args")
        if isinstance(args, dict) and "authenticated" in args:
            return AuthStatus(bool(args["authenticated"]), bool(args.get("competing", False)),
                              str(args.get("message") or args.get("fail") or ""))
        return Other(topic)
    if not topic and str(body.get("message", "")).strip().lower() == WAITING_FOR_SESSION:
        return WaitingForSession()
    return Other(topic or "?")


def _conid(topic: str, body: dict[str, Any]) -> int | None:
    for value in (body.get("conid"), topic.partition("+")[2] if "+" in topic else None):
        if value in (None, ""):
            continue
        try:
            return int(str(value).split("@")[0])
        except ValueError:
            continue
    return None


# -- merging deltas, conflating ------------------------------------------------------------------


@dataclass
class QuoteBook:
    """The merged fields of every followed conid and the latest quote of each one that
    changed since :meth:`take`. A burst of deltas for one conid costs one quote."""

    symbols: MutableMapping[int, str] = field(default_factory=dict)  # conid → ticker
    _rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    _changed: dict[int, Quote] = field(default_factory=dict)

    def apply(self, message: MarketData, now: datetime) -> Quote | None:
        """Merge one delta; the whole quote when it has price data (None for IBKR's
        housekeeping-only messages)."""
        row = self._rows.setdefault(message.conid, {"conid": message.conid})
        row.update(message.fields)
        if not mapping.snapshot_has_data(row):
            return None
        symbol = row.get(mapping.F_SYMBOL)
        if symbol:
            self.symbols.setdefault(message.conid, str(symbol))
        quote = mapping.quote_from_snapshot(row, self.symbols.get(message.conid, ""), now)
        self._changed[message.conid] = quote
        return quote

    def take(self) -> list[Quote]:
        """The latest quote of every conid changed since the last call (then forgotten)."""
        out = list(self._changed.values())
        self._changed.clear()
        return out

    @property
    def pending(self) -> bool:
        return bool(self._changed)

    def keep_only(self, conids: Collection[int]) -> None:
        """Forget everything about conids no longer followed."""
        for conid in [c for c in self._rows if c not in conids]:
            del self._rows[conid]
        for conid in [c for c in self._changed if c not in conids]:
            del self._changed[conid]

    def reset_fields(self) -> None:
        """A new connection starts its deltas from nothing (IBKR replays no state); the
        quotes not yet taken stay."""
        self._rows.clear()


__all__ = [
    "STREAM_FIELDS",
    "TIC",
    "AuthStatus",
    "Greeting",
    "Heartbeat",
    "MarketData",
    "Message",
    "Other",
    "QuoteBook",
    "ServerError",
    "WaitingForSession",
    "parse",
    "session_frame",
    "subscribe_frame",
    "unsubscribe_frame",
]
