"""IbkrQuoteStream against the fake IBKR's websocket over loopback (127.0.0.1): the OAuth
login, subscriptions, conflation, the session keep-alive, losing the socket and getting it
back, and the line limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from skimd.clock import SimulatedClock
from skimd.errors import InvalidInputError
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.ibkr import ws_messages as wm
from skimd.infrastructure.brokers.ibkr.quote_stream import IbkrQuoteStream, WsEndpoint
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.ports.quotes import StreamingBroker, StreamState
from tests.contract.ibkr_stream_env import IbkrStreamEnv, ibkr_stream_env
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.integration.ibkr.conftest import START


@pytest.fixture
async def env() -> AsyncIterator[IbkrStreamEnv]:
    async with ibkr_stream_env(SimulatedClock(START)) as env:
        yield env


async def _up(env: IbkrStreamEnv, conids: list[int]) -> None:
    await env.stream.start()
    await env.wait_up()
    await env.stream.follow(conids)
    await env.wait_for(lambda: env.fake.ws.subscribed() == set(conids))


def _ups(states: list[StreamState]) -> list[bool]:
    return [s.up for s in states]


async def test_subscribed_conids_stream_whole_quotes(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    first = await env.quotes_until(lambda seen: {bhp, cba} <= seen.keys())
    assert first == {bhp: [Decimal("45.10")], cba: [Decimal("140.25")]}
    await env.push(bhp, Decimal("45.20"))
    [quote] = await env.stream.next_quotes(5)
    # a delta (last, bid, ask, high) merged onto the first message: every field is there
    assert (quote.conid, quote.symbol, quote.last, quote.bid, quote.ask) == (
        bhp, "BHP", Decimal("45.20"), Decimal("45.19"), Decimal("45.21"))
    assert (quote.open, quote.prev_close, quote.volume) == (
        Decimal("44.90"), Decimal("44.60"), 2_500_000)
    assert quote.at == env.clock.now()
    assert f"smd+{bhp}+" + json.dumps({"fields": list(wm.STREAM_FIELDS)},
                                       separators=(",", ":")) in env.fake.ws.received
    assert env.fake.ws.handshakes == [101]  # the access token and the /tickle cookie did
    assert isinstance(env.broker, StreamingBroker)


async def test_a_burst_of_ticks_costs_one_quote_per_conid(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    await env.quotes_until(lambda seen: {bhp, cba} <= seen.keys())
    with env.fake.ws.batch():  # one TCP write: the stream reads them all before we ask
        await env.burst(bhp, [Decimal("45.30"), Decimal("45.40"), Decimal("45.50")])
        await env.push(cba, Decimal("141.00"))
    quotes = await env.stream.next_quotes(5)
    assert sorted((q.conid, q.last) for q in quotes) == [
        (bhp, Decimal("45.50")), (cba, Decimal("141.00"))]


async def test_unfollowed_conids_are_unsubscribed_and_their_ticks_ignored(
    env: IbkrStreamEnv,
) -> None:
    bhp, cba, csl = env.conids
    await _up(env, [bhp, cba])
    await env.quotes_until(lambda seen: {bhp, cba} <= seen.keys())
    await env.stream.follow([bhp, csl])
    await env.wait_for(lambda: env.fake.ws.subscribed() == {bhp, csl})
    assert f"umd+{cba}+{{}}" in env.fake.ws.received
    await env.push(cba, Decimal("150"))  # nobody subscribed: IBKR sends nothing
    await env.push(bhp, Decimal("45.60"))
    seen = await env.quotes_until(lambda seen: bhp in seen and csl in seen)
    assert cba not in seen and seen[bhp][-1] == Decimal("45.60")


async def test_ticks_follow_the_fake_markets_price_paths(env: IbkrStreamEnv) -> None:
    market = FakeIbkrMarket(
        env.fake, DemoMarket(seed=7, universe_size=40, calendar=AsxCalendar("Australia/Sydney")))
    tickers = market.market.tickers[:3]
    conids = [t.conid for t in tickers]
    for conid in conids:
        market.refresh(conid, env.clock.now())
    await _up(env, conids)
    await env.quotes_until(lambda seen: set(conids) <= seen.keys())
    ticks = 0
    for _ in range(3):
        await env.advance(20)  # market time passes; the fake pushes what moved
        now = env.clock.now()
        with env.fake.ws.batch():
            pushed = market.push(now)
        if pushed == 0:
            continue
        ticks += 1
        moved = {q.conid: q for q in await env.stream.next_quotes(60)}
        assert moved  # at least one conid changed and came out of the stream
        for conid, quote in moved.items():
            expected = market.market.quote(market.market.by_conid(conid).symbol, now)
            assert (quote.last, quote.bid, quote.ask, quote.volume) == (
                expected.last, expected.bid, expected.ask, expected.volume)
    assert ticks > 0


async def test_more_conids_than_lines_is_refused_and_changes_nothing(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    with pytest.raises(InvalidInputError, match="101 conids exceed the 100"):
        await env.stream.follow(range(1, 102))
    assert env.stream.followed == {bhp, cba}
    assert env.fake.ws.subscribed() == {bhp, cba}


async def test_ibkrs_line_limit_answers_an_error_and_the_stream_carries_on(
    env: IbkrStreamEnv,
) -> None:
    bhp, cba, _ = env.conids
    env.fake.ws.line_limit = 1  # an account with a single line left
    await env.stream.start()
    await env.wait_up()
    await env.stream.follow([bhp, cba])
    await env.wait_for(lambda: sum(t.startswith("smd+") for t in env.fake.ws.received) == 2)
    assert env.fake.ws.subscribed() == {bhp}
    await env.push(bhp, Decimal("45.70"))
    seen = await env.quotes_until(lambda seen: Decimal("45.70") in seen.get(bhp, []))
    assert cba not in seen and env.stream.state.up


async def test_the_socket_is_cut_down_once_back_once_resubscribed(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    await env.quotes_until(lambda seen: {bhp, cba} <= seen.keys())
    await env.drop(refuse_s=7)  # and IBKR refuses new sockets for 7 s
    await env.wait_down()
    assert await env.stream.next_quotes(60) == []  # down: at once, no waiting
    assert "connection lost" in env.stream.state.reason
    await env.advance(15)  # back-off 2 s, 4 s (both refused: 503), then 8 s: up
    await env.wait_up()
    assert env.fake.ws.handshakes == [101, 503, 503, 101]
    assert _ups(env.states) == [True, False, True]  # one call per transition, not per retry
    await env.wait_for(lambda: env.fake.ws.subscribed() == {bhp, cba})
    await env.push(cba, Decimal("142"))
    seen = await env.quotes_until(lambda seen: Decimal("142") in seen.get(cba, []))
    assert seen[cba][-1] == Decimal("142")


async def test_tic_keeps_the_session_and_silence_means_down(env: IbkrStreamEnv) -> None:
    bhp = env.conids[0]
    await _up(env, [bhp])
    await env.advance(61)  # heartbeats every 10 s: still up; tic every 30 s
    assert env.stream.state.up and env.fake.ws.received.count("tic") == 2
    env.fake.ws.silence()  # the socket stays open but nothing more arrives
    await env.advance(40)
    assert not env.stream.state.up
    assert env.states[-1].reason.startswith("no heartbeat from IBKR")
    await env.advance(3)  # the back-off: a new socket, which talks
    await env.wait_up()
    assert _ups(env.states) == [True, False, True]
    await env.wait_for(lambda: env.fake.ws.subscribed() == {bhp})


async def test_a_socket_that_never_confirms_the_session_is_given_up(env: IbkrStreamEnv) -> None:
    env.fake.ws.mute_new = True  # the handshake succeeds, then nothing
    await env.stream.start()
    await env.wait_for(lambda: env.fake.ws.handshakes == [101])
    await env.advance(21)  # checked every 5 s: given up at 20 s
    assert env.stream.state.reason == "IBKR websocket did not confirm the session in 15 s"
    assert env.states == []  # never up, so no transition to report
    env.fake.ws.mute_new = False
    await env.advance(3)
    await env.wait_up()
    assert env.fake.ws.handshakes == [101, 101] and _ups(env.states) == [True]


async def test_a_new_brokerage_session_resubscribes_everything(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    env.fake.drop_bridge("nightly reset")  # sts: not authenticated; subscriptions gone
    await env.wait_down()
    assert "brokerage session" in env.stream.state.reason
    await env.advance(61)  # the session's keep-alive tickle finds it down and re-opens it
    await env.wait_for(lambda: env.fake.authenticated)
    await env.advance(70)  # the stream's next attempt (back-off doubling) finds it up
    await env.wait_up()
    await env.wait_for(lambda: env.fake.ws.subscribed() == {bhp, cba})
    await env.push(bhp, Decimal("46"))
    seen = await env.quotes_until(lambda seen: Decimal("46") in seen.get(bhp, []))
    assert seen[bhp][-1] == Decimal("46")
    assert _ups(env.states) == [True, False, True]


async def test_a_new_live_session_token_ends_the_socket_and_the_stream_follows(
    env: IbkrStreamEnv,
) -> None:
    bhp = env.conids[0]
    await _up(env, [bhp])
    old_session = env.fake.ws.session_id
    env.fake.expire_lst()  # the next signed call meets a 401 and derives a new token
    await env.broker.health()
    await env.wait_down()  # IBKR ended the old login's socket
    await env.advance(3)
    await env.wait_up()
    await env.wait_for(lambda: env.fake.ws.subscribed() == {bhp})
    assert env.fake.lst_issued == 2 and env.fake.ws.session_id != old_session
    assert env.fake.ws.handshakes == [101, 101] and _ups(env.states) == [True, False, True]


async def test_without_the_cookie_the_session_message_logs_in(env: IbkrStreamEnv) -> None:
    env.fake.ws.accept_cookie = False  # the socket asks "waiting for session"
    await _up(env, [env.conids[0]])
    assert json.dumps({"session": env.fake.ws.session_id}) in env.fake.ws.received


async def test_a_wrong_access_token_is_refused_and_stays_down(env: IbkrStreamEnv) -> None:
    fake = env.fake
    states: list[StreamState] = []

    async def tickle() -> object:
        return {"session": fake.ws.session_id,
                "iserver": {"authStatus": {"authenticated": True, "connected": True}}}

    stream = IbkrQuoteStream(WsEndpoint(env.ws_url, "not-the-token"), tickle=tickle,
                             session_epoch=lambda: 1, clock=env.clock, on_state=states.append)
    env.stream = stream  # env.advance settles on this stream's attempts
    try:
        await stream.start()
        await env.wait_for(lambda: fake.ws.handshakes == [401])
        await env.advance(7)  # two more attempts (2 s, 4 s later)
        await env.wait_for(lambda: len(fake.ws.handshakes) >= 3)
        assert set(fake.ws.handshakes) == {401}
        assert "refused the login (HTTP 401)" in stream.state.reason
        assert states == [] and not stream.state.up
        assert "not-the-token" not in repr(stream) + stream.state.reason
    finally:
        await stream.stop()


async def test_stop_unsubscribes_and_then_answers_nothing(env: IbkrStreamEnv) -> None:
    bhp, cba, _ = env.conids
    await _up(env, [bhp, cba])
    await env.stream.stop()
    await env.wait_for(lambda: env.fake.ws.sockets == [])
    assert {f"umd+{bhp}+{{}}", f"umd+{cba}+{{}}"} <= set(env.fake.ws.received)
    assert await env.stream.next_quotes(60) == []
    assert _ups(env.states) == [True]  # no callback for the stop itself
    await env.stream.stop()  # idempotent
