"""The StreamEnv type: what the quote-stream contract suite needs of an implementation
(registered in ``quote_stream_env.py``). A module of its own so that an implementation's env
module and the registry do not import each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal

from skimd.clock import SimulatedClock
from skimd.services.ports.quotes import QuoteStream, StreamStateListener


@dataclass
class StreamEnv:
    """A connected broker's streaming side, and the levers a test pulls."""

    open_stream: Callable[[StreamStateListener | None], QuoteStream]
    clock: SimulatedClock
    conids: tuple[int, ...]  # at least three instruments trading now
    unknown_conid: int
    # let market time pass AND let everything the stream is owed arrive: when it returns the
    # stream has dealt with every message, so what a test asserts is not a race
    advance: Callable[[float], Awaitable[None]]
    drop: Callable[[], None]  # the stream's connection dies (the session stays up)
    restore: Callable[[], None]  # it may connect again
    price: Callable[[int], Awaitable[Decimal | None]]  # what a snapshot shows now


StreamEnvFactory = Callable[[SimulatedClock], AbstractAsyncContextManager[StreamEnv]]

__all__ = ["StreamEnv", "StreamEnvFactory"]
