"""IbkrQuoteStream before any socket: what /tickle says decides whether it tries at all, and
nothing that goes wrong there ends the stream (it stays down and tries again later)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from skimd.clock import SimulatedClock
from skimd.infrastructure.brokers.ibkr.quote_stream import IbkrQuoteStream, WsEndpoint
from skimd.services.ports.quotes import StreamState

START = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)


class Tickles:
    """/tickle answers in turn (an exception is raised); counts the calls."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.called = asyncio.Event()

    async def __call__(self) -> object:
        self.calls += 1
        self.called.set()
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer


async def _attempts(stream: IbkrQuoteStream, tickles: Tickles, clock: SimulatedClock,
                    count: int) -> None:
    await stream.start()
    while tickles.calls < count:
        tickles.called.clear()
        clock.advance(60)  # past any back-off
        await asyncio.wait_for(tickles.called.wait(), 10)
    for _ in range(20):
        await asyncio.sleep(0)  # the attempt finishes and the stream sleeps again


@pytest.mark.parametrize(("answer", "reason"), [
    ({"session": "s", "iserver": {"authStatus": {"authenticated": False, "connected": True}}},
     "IBKR brokerage session not authenticated; stream waits for it"),
    ({"session": "s", "iserver": {"authStatus": {"authenticated": False, "competing": True}}},
     "IBKR brokerage session taken by another login; stream waits for it"),
    ({"iserver": {"authStatus": {"authenticated": True, "connected": True}}},
     "IBKR /tickle gave no session for the websocket"),
    (RuntimeError("a bug"), "IBKR quote stream failed (RuntimeError)"),
])
async def test_no_session_no_socket_and_the_stream_keeps_trying(
    answer: object, reason: str
) -> None:
    clock = SimulatedClock(START)
    tickles = Tickles(answer)
    states: list[StreamState] = []
    stream = IbkrQuoteStream(WsEndpoint("ws://127.0.0.1:9/v1/api/ws", "tok"), tickle=tickles,
                             session_epoch=lambda: 1, clock=clock, on_state=states.append)
    try:
        await _attempts(stream, tickles, clock, 3)
        assert stream.state.reason == reason and not stream.state.up
        assert stream.connections == 0 and states == []  # never up: nothing to report
        assert await stream.next_quotes(60) == []  # down answers at once
    finally:
        await stream.stop()
    assert stream.state.reason == "stopped"


async def test_a_stop_during_an_attempt_leaves_no_attempt_under_way() -> None:
    clock = SimulatedClock(START)
    called, answered = asyncio.Event(), asyncio.Event()

    async def tickle() -> object:  # IBKR has not answered yet when the stop comes
        called.set()
        await answered.wait()
        return {}

    stream = IbkrQuoteStream(WsEndpoint("ws://127.0.0.1:9/v1/api/ws", "tok"), tickle=tickle,
                             session_epoch=lambda: 1, clock=clock)
    await stream.start()
    await asyncio.wait_for(called.wait(), 10)
    assert stream.connecting and stream.frames is None
    await stream.stop()
    assert not stream.connecting  # what a test's settle waits on: it must not stay True
