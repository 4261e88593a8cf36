"""Running a wired daemon: lock, signals, start, wait, bounded stop, release.

``skimd run`` waits for SIGTERM/SIGINT (or ``[supervisor] run_for_s``); the demo drives a
SimulatedClock through its day and stops when the day is over. Both go through
:func:`run_daemon`, so the stop path the demo exercises is the one systemd uses.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
from datetime import datetime

import structlog

from skimd.bootstrap import Daemon
from skimd.clock import SimulatedClock

log = structlog.get_logger("skimd.runtime")


async def run_daemon(
    daemon: Daemon,
    *,
    simulate_until: datetime | None = None,
    install_signals: bool = True,
    pace: float | None = None,
) -> int:
    """Run until asked to stop; 0 on a clean stop, 1 when jobs had to be cancelled."""
    sup = daemon.supervisor
    loop = asyncio.get_running_loop()
    daemon.lock.acquire()
    installed: list[signal.Signals] = []
    try:
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, sup.request_stop, f"received {sig.name}")
                installed.append(sig)
        sup.start()
        run_for = daemon.settings.supervisor.run_for_s
        if run_for is not None:
            daemon.clock.call_later(run_for, lambda: sup.request_stop("run_for_s elapsed"))
        if simulate_until is not None and isinstance(daemon.clock, SimulatedClock):
            driver = asyncio.ensure_future(
                daemon.clock.run_until(simulate_until, settle=sup.idle, pace=pace)
            )
            driver.add_done_callback(lambda _t: sup.request_stop("simulated day finished"))
        reason = await sup.wait_for_stop_request()
        log.info("stopping", reason=reason)
        clean = await sup.stop(reason)
        return 0 if clean else 1
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await _close_all(daemon.closers)
        daemon.lock.release()


async def _close_all(closers: list[object]) -> None:
    """Close resources in reverse creation order; one failing close never skips the rest."""
    for closer in reversed(closers):
        try:
            result = closer() if callable(closer) else None
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # shutting down: report and go on
            log.warning("close failed", resource=repr(closer), error=str(exc))
