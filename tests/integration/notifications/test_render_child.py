"""The daemon's render helper: charts and Discord requests drawn in a short-lived child
process give exactly what the in-process renderer gives, failures are transient errors
naming the helper, and a skimd process that uses it never loads Pillow or requests."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import textwrap
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from skimd.config import PROJECT_ROOT
from skimd.domain.alerts import EntrySettled
from skimd.domain.market import PricePoint
from skimd.errors import NotificationDeliveryError, RendererUnavailableError
from skimd.infrastructure.notifications.message_renderers import ChildRenderer, InProcessRenderer
from skimd.infrastructure.notifications.report_charts import report_chart_renderer
from skimd.services.ports.reports import ChartLevel, ChartMark, ChartSpec
from tests.fakes.alert_samples import T, since_v1

SYD = ZoneInfo("Australia/Sydney")
PATH = tuple(
    PricePoint(at=T + timedelta(minutes=i), price=Decimal("2.78") + Decimal(i % 7) / 100)
    for i in range(40)
)


def _entry() -> EntrySettled:
    (settled,) = [a for a in since_v1() if isinstance(a, EntrySettled)]
    return dataclasses.replace(settled, path=PATH, filled_at=PATH[30].at)


@pytest.mark.parametrize("plain", [False, True])
def test_the_child_builds_the_same_requests_and_chart_as_this_process(plain: bool) -> None:
    alert = _entry()
    kwargs = {"tz": SYD, "charts": True, "username": "skimd", "plain": plain}
    here = asyncio.run(InProcessRenderer().discord(alert, **kwargs))  # type: ignore[arg-type]
    there = asyncio.run(ChildRenderer().discord(alert, **kwargs))  # type: ignore[arg-type]
    assert there == here
    files = [name for _, fs in there for name, _ in fs]
    assert (files == []) if plain else any(name.endswith(".png") for name in files)


def test_the_child_draws_a_report_chart_byte_for_byte() -> None:
    spec = ChartSpec(
        title="VPL 24 Nov",
        path=PATH,
        levels=(ChartLevel("ORH 2.84", Decimal("2.84"), "orh"),
                ChartLevel("stop 2.77", Decimal("2.77"), "stop")),
        marks=(ChartMark("buy", PATH[10].at, PATH[10].price, "BUY"),
               ChartMark("sell", PATH[30].at, PATH[30].price, "SELL")),
        profitable=False,
    )
    png = ChildRenderer().report_chart(SYD, spec)
    assert png.startswith(b"\x89PNG") and png == report_chart_renderer(SYD)(spec)


# a child that dies, one that answers garbage, one that never answers (blocks on a pipe),
# each after reading its request (one line, as the worker reads them)
DIES = [sys.executable, "-c", "import sys; sys.stdin.readline(); raise KeyError('x')"]
LIES = [sys.executable, "-c", "import sys; sys.stdin.readline(); print('not json', flush=True)"]
HANGS = [sys.executable, "-c",
         "import os, sys; sys.stdin.readline(); r, w = os.pipe(); os.read(r, 1)"]


@pytest.mark.parametrize(
    ("command", "message"),
    [(DIES, "render helper failed (exit 1)"),
     (LIES, "render helper: unreadable answer"),
     (HANGS, "render helper did not answer within 1 s")],
)
def test_a_failing_child_is_a_transient_delivery_error(command: list[str], message: str) -> None:
    renderer = ChildRenderer(command=command, timeout_s=1)
    with pytest.raises(RendererUnavailableError) as caught:
        asyncio.run(renderer.discord(_entry(), tz=SYD, charts=True, username=None, plain=False))
    assert str(caught.value) == message
    assert isinstance(caught.value, NotificationDeliveryError)  # the outbox retries it
    with pytest.raises(RendererUnavailableError, match="render helper"):
        renderer.report_chart(SYD, ChartSpec(title="t", path=PATH))


def test_a_burst_is_drawn_by_one_worker_and_a_dead_worker_is_replaced() -> None:
    async def scenario() -> tuple[int, int, int]:
        renderer = ChildRenderer()
        kwargs = {"tz": SYD, "charts": False, "username": None, "plain": False}
        try:
            for _ in range(3):
                await renderer.discord(_entry(), **kwargs)  # type: ignore[arg-type]
            burst = renderer.started
            worker = renderer._worker
            assert worker is not None
            worker.kill()  # as if it had exited idle just before the next alert
            await worker.wait()
            sent = await renderer.discord(_entry(), **kwargs)  # type: ignore[arg-type]
            return burst, renderer.started, len(sent)
        finally:
            await renderer.aclose()

    assert asyncio.run(scenario()) == (1, 2, 1)


SCRIPT = textwrap.dedent(
    """
    import asyncio, dataclasses, sys
    from datetime import timedelta
    from decimal import Decimal
    from zoneinfo import ZoneInfo
    from skimd.domain.alerts import EntrySettled
    from skimd.domain.market import PricePoint
    from skimd.infrastructure.notifications.message_renderers import ChildRenderer
    from skimd.services.ports.reports import ChartSpec
    from tests.fakes.alert_samples import T, since_v1

    path = tuple(PricePoint(T + timedelta(minutes=i), Decimal("2.8") + i % 3) for i in range(9))
    (alert,) = [a for a in since_v1() if isinstance(a, EntrySettled)]
    alert = dataclasses.replace(alert, path=path, filled_at=path[5].at)
    tz = ZoneInfo("Australia/Sydney")
    sent = asyncio.run(ChildRenderer().discord(alert, tz=tz, charts=True, username="s",
                                               plain=False))
    png = ChildRenderer().report_chart(tz, ChartSpec(title="t", path=path))
    heavy = [m for m in ("PIL", "discord_webhook", "requests") if m in sys.modules]
    print(len(sent), png[:4] == b"\\x89PNG", heavy)
    """
)


def test_a_process_that_renders_through_the_child_never_loads_pillow_or_requests() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True", "[]"]
