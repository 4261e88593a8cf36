"""Behaviour every QuoteStream must show (skimd.services.ports.quotes; add an
implementation in quote_stream_env.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quote_stream_env import START, STREAM_ENVS
from stream_env import StreamEnv

from skimd.clock import SimulatedClock
from skimd.errors import InvalidInputError
from skimd.services.ports.quotes import QuoteStream, StreamState

# The contract says a stream reconnects by itself "with back-off" and bounds no delay: a test
# gives it longer than any implementation's back-off cap (IBKR's: 60 s) to come back.
RECONNECT_S = 60


@pytest.fixture(params=sorted(STREAM_ENVS))
async def stream_env(request: pytest.FixtureRequest) -> AsyncIterator[StreamEnv]:
    clock = SimulatedClock(START)
    async with STREAM_ENVS[request.param](clock) as env:
        yield env


async def _started(env: StreamEnv, states: list[StreamState]) -> QuoteStream:
    stream = env.open_stream(states.append)
    await stream.start()
    await env.advance(1)
    assert stream.state.up, stream.state
    return stream


async def _latest(env: StreamEnv, stream: QuoteStream) -> dict[int, object]:
    return {q.conid: q.last for q in await stream.next_quotes(0)}


async def test_subscribed_conids_get_their_current_quote(stream_env: StreamEnv) -> None:
    states: list[StreamState] = []
    stream = await _started(stream_env, states)
    first, second, _ = stream_env.conids[:3]
    await stream.follow([first, second])
    await stream_env.advance(1)
    quotes = await stream.next_quotes(0)
    assert sorted(q.conid for q in quotes) == sorted([first, second])
    for q in quotes:
        assert q.at.utcoffset() is not None and q.last is not None
        assert q.last == await stream_env.price(q.conid)
    await stream.stop()


async def test_a_burst_is_conflated_to_the_latest_quote_per_conid(stream_env: StreamEnv) -> None:
    stream = await _started(stream_env, [])
    await stream.follow(stream_env.conids)
    await stream_env.advance(900)  # many ticks, nobody reading
    quotes = await stream.next_quotes(0)
    assert sorted(q.conid for q in quotes) == sorted(stream_env.conids)  # one each
    for q in quotes:
        assert q.last == await stream_env.price(q.conid)
    assert await stream.next_quotes(0) == []  # nothing changed since
    await stream.stop()


async def test_follow_makes_the_set_exactly_the_conids_given(stream_env: StreamEnv) -> None:
    stream = await _started(stream_env, [])
    first, second, third = stream_env.conids[:3]
    await stream.follow([first, second])
    await stream_env.advance(1)
    await stream.next_quotes(0)
    await stream.follow([third])
    await stream_env.advance(900)
    assert set(await _latest(stream_env, stream)) == {third}
    await stream.stop()


async def test_more_conids_than_lines_is_refused_and_changes_nothing(
    stream_env: StreamEnv,
) -> None:
    stream = await _started(stream_env, [])
    first = stream_env.conids[0]
    await stream.follow([first])
    limit = stream.line_limit
    too_many = [first, *range(1, limit + 1)]
    with pytest.raises(InvalidInputError) as refused:
        await stream.follow(too_many)
    assert str(limit) in str(refused.value) and str(len(too_many)) in str(refused.value)
    await stream_env.advance(900)
    assert set(await _latest(stream_env, stream)) == {first}
    await stream.stop()


async def test_down_is_a_state_told_once_and_the_stream_resubscribes(
    stream_env: StreamEnv,
) -> None:
    states: list[StreamState] = []
    stream = await _started(stream_env, states)
    await stream.follow(stream_env.conids)
    await stream_env.advance(1)
    await stream.next_quotes(0)
    stream_env.drop()
    stream_env.drop()  # a second cut while down is no new transition
    await stream_env.advance(1)
    assert not stream.state.up and stream.state.reason
    await stream_env.advance(30)  # down a while: retries (if any) are no transitions either
    assert not stream.state.up and [s.up for s in states] == [True, False]
    assert await stream.next_quotes(30) == []  # at once: down
    stream_env.restore()
    await stream_env.advance(RECONNECT_S)
    assert stream.state.up
    assert [s.up for s in states] == [True, False, True]
    assert all(s.since.utcoffset() is not None for s in states)
    back = await _latest(stream_env, stream)  # every conid again, without a follow
    assert set(back) == set(stream_env.conids)
    await stream.stop()


async def test_stop_is_idempotent_and_silences_the_stream(stream_env: StreamEnv) -> None:
    states: list[StreamState] = []
    stream = await _started(stream_env, states)
    await stream.follow(stream_env.conids[:1])
    await stream.stop()
    await stream.stop()
    told = len(states)
    stream_env.drop()
    stream_env.restore()
    await stream_env.advance(60)
    assert await stream.next_quotes(30) == []
    assert len(states) == told
    assert not stream.state.up
