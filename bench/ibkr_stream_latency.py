"""IBKR websocket tick → quote delivered, over loopback: how long a price pushed by the fake
IBKR takes to come out of :meth:`IbkrQuoteStream.next_quotes` as a whole quote.

Real pieces: the IBKR facade (OAuth, brokerage session) against the fake IBKR served on
127.0.0.1 (REST and ``/ws`` on one port, :mod:`tests.fakes.ibkr_ws`), the stream the facade
builds (``websockets`` client, frame parsing, delta merge, conflation). The clock is
simulated and stands still: only the wall time of the delivery is measured.

Per sample: the fake's instrument gets a new last price and the fake pushes the changed
fields (one ``smd`` frame, as IBKR sends a tick); the wall time from just before that push
(``time.perf_counter``) to the return of the ``next_quotes`` call that was already waiting
for it is the tick → quote latency. Samples rotate over ``--conids`` subscribed conids.

For the reaction bench: ``await measure(samples, conids)`` returns the latencies in seconds
(the caller adds its own processing time after the quote).

Run: ``python bench/ibkr_stream_latency.py [--samples N] [--conids N]`` from the repository
root. Prints figures only, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skimd.clock import SimulatedClock
from tests.contract.ibkr_stream_env import ibkr_stream_env
from tests.fakes.ibkr_server import FakeInstrument

START = datetime(2025, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))


async def measure(samples: int = 200, conids: int = 20) -> list[float]:
    """Tick → quote latencies (seconds) of ``samples`` pushes over ``conids`` conids."""
    async with ibkr_stream_env(SimulatedClock(START)) as env:
        followed = list(env.conids)
        for k in range(conids - len(followed)):
            conid = 9_000_000 + k
            env.fake.add_instrument(FakeInstrument(
                f"Z{k}", conid, f"Z{k} LTD", Decimal("1.00"), open=Decimal("1.00"),
                last=Decimal("1.00"), bid=Decimal("0.99"), ask=Decimal("1.01"),
                high=Decimal("1.00"), low=Decimal("1.00"), volume=1000))
            followed.append(conid)
        followed = followed[:conids]
        await env.stream.start()
        await env.wait_up()
        await env.stream.follow(followed)
        await env.quotes_until(lambda seen: set(followed) <= seen.keys())
        out: list[float] = []
        for n in range(samples):
            conid = followed[n % len(followed)]
            price = Decimal("2.00") + Decimal(n) / 100
            waiting = asyncio.ensure_future(env.stream.next_quotes(3600))
            await asyncio.sleep(0)  # the stream's reader and the waiter are parked
            start = time.perf_counter()
            await env.push(conid, price)
            quotes = await waiting
            out.append(time.perf_counter() - start)
            assert [(q.conid, q.last) for q in quotes] == [(conid, price)]
        return out


def _report(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (f"IBKR fake over loopback, tick -> quote: n={len(ms)} median "
            f"{statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--conids", type=int, default=20)
    args = parser.parse_args()
    print(_report(asyncio.run(measure(args.samples, args.conids))))


if __name__ == "__main__":
    main()
