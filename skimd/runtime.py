"""Running a supervisor: signals, start, wait, bounded stop, and the exit code.

``skimd run`` waits for SIGTERM/SIGINT (or ``[supervisor] run_for_s``); the demo drives a
SimulatedClock through its day and stops when the day is over. Both go through
:func:`run_supervisor`, so the stop path the demo exercises is the one systemd uses. The
resources around the supervisor (database, broker, outbox, lock) belong to the App that
built it and are closed by it afterwards.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime

import structlog

from skimd.clock import Clock, SimulatedClock
from skimd.services.supervisor import Supervisor

log = structlog.get_logger("skimd.runtime")

EX_CLEAN_STOP_FAILED = 1  # running jobs had to be cancelled at the shutdown deadline


async def run_supervisor(
    sup: Supervisor,
    clock: Clock,
    *,
    run_for_s: float | None = None,
    simulate_until: datetime | None = None,
    install_signals: bool = True,
    pace: float | None = None,
) -> int:
    """Run until asked to stop. The exit code: the one a fatal error asked for, else 0 on
    a clean stop and 1 when running jobs had to be cancelled at the deadline."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    try:
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, sup.request_stop, f"received {sig.name}")
                installed.append(sig)
        sup.start()
        if run_for_s is not None:
            clock.call_later(run_for_s, lambda: sup.request_stop("run_for_s elapsed"))
        if simulate_until is not None and isinstance(clock, SimulatedClock):
            driver = asyncio.ensure_future(
                clock.run_until(simulate_until, settle=sup.idle, pace=pace)
            )
            driver.add_done_callback(lambda _t: sup.request_stop("simulated day finished"))
        reason = await sup.wait_for_stop_request()
        log.info("stopping", reason=reason)
        clean = await sup.stop(reason)
        if sup.exit_code is not None:
            return sup.exit_code
        return 0 if clean else EX_CLEAN_STOP_FAILED
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
