"""Who draws charts and builds Discord's requests: in this process, or in a short-lived
child process (the daemon's choice, bound in bootstrap).

Pillow (≈5 MB resident) and discord-webhook with ``requests`` (≈4 MB) are needed only for
a moment per alert (and per trade report at the end of the day); loaded once into the
long-running daemon they would stay for weeks. :class:`ChildRenderer` hands them to
``python -m skimd.infrastructure.notifications.render_child`` instead (a process start is
about 0.2 to 0.4 s), giving it the alert as the outbox stores it (no secret: alerts carry
none, and the webhook URL stays here). The child gets a minimal environment (``PATH``,
locale, the directory skimd is imported from, the interpreter's optimisation level), not
the daemon's (no ``SKIMD__*``, no credentials).

A child that cannot start, dies, exceeds ``timeout_s`` (a wall-clock limit on an OS process)
or answers garbage is :class:`~skimd.errors.RendererUnavailableError`: transient, so the
outbox retries the alert and the end-of-day job its reports. A burst of alerts is drawn
by one worker process (started at the first, gone ``idle_s`` after the last), so a burst
costs one process start, not one per message. :class:`InProcessRenderer` does the same
work in a worker thread (commands, backtests, tests).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import skimd
from skimd.domain.alerts import Alert
from skimd.errors import RendererUnavailableError
from skimd.infrastructure.alert_codec import to_payload
from skimd.infrastructure.child_processes import failure, minimal_env

if TYPE_CHECKING:
    from skimd.infrastructure.notifications.discord_messages import Composed
    from skimd.services.ports.reports import ChartSpec

CHILD_MODULE = "skimd.infrastructure.notifications.render_child"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_IDLE_S = 30.0  # the worker exits after this long without a request
# the exception's name on the last stderr line (never the message after it)
_EXCEPTION_NAME = re.compile(r"^([A-Za-z_][\w.]{0,80})(?::|$)")


class MessageRenderer(Protocol):
    async def discord(
        self, alert: Alert, *, tz: tzinfo, charts: bool, username: str | None, plain: bool
    ) -> list[Composed]:
        """The requests that carry ``alert`` (see :mod:`.discord_messages`)."""


class InProcessRenderer:
    """Charts and messages in a worker thread of this process."""

    def __repr__(self) -> str:
        return "InProcessRenderer()"

    async def discord(
        self, alert: Alert, *, tz: tzinfo, charts: bool, username: str | None, plain: bool
    ) -> list[Composed]:
        from skimd.infrastructure.notifications import discord_messages

        if plain:
            return await asyncio.to_thread(
                discord_messages.compose_plain, alert, tz=tz, username=username
            )
        return await asyncio.to_thread(
            discord_messages.compose, alert, tz=tz, charts=charts, username=username
        )

    def report_chart(self, tz: tzinfo, spec: ChartSpec) -> bytes:
        """A trade report's chart, drawn here (blocking: called in a worker thread)."""
        from skimd.infrastructure.notifications.report_charts import report_chart_renderer

        return report_chart_renderer(tz)(spec)


class ChildRenderer:
    """Charts and messages in a child process. Discord's requests go to a worker
    (``render_child --serve``) kept while alerts keep coming: a burst costs one process
    start, not one per message, and the worker exits by itself after ``idle_s`` without a
    request (so Pillow and requests leave with it). A worker found dead is replaced once
    per request. Report charts (a few at the end of the day) start a process each.
    ``command`` replaces the worker's argv (tests start a crashing or lying child)."""

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        idle_s: float = DEFAULT_IDLE_S,
        command: Sequence[str] | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._command = list(command or child_command())
        self._serve = [*self._command, "--serve", f"{idle_s:g}"] if command is None else (
            self._command
        )
        self._worker: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None
        self.started = 0  # worker processes started (observable: tests, benches)

    def __repr__(self) -> str:
        return f"ChildRenderer(timeout_s={self._timeout_s:g})"

    async def discord(
        self, alert: Alert, *, tz: tzinfo, charts: bool, username: str | None, plain: bool
    ) -> list[Composed]:
        request = {"op": "discord", "alert": to_payload(alert), "tz": zone_key(tz),
                   "charts": charts, "username": username, "plain": plain}
        answer = await self._ask(request)
        try:
            return [(m["body"], [(n, base64.b64decode(d)) for n, d in m["files"]])
                    for m in answer["messages"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise RendererUnavailableError("render helper: unreadable answer") from exc

    def report_chart(self, tz: tzinfo, spec: ChartSpec) -> bytes:
        """A trade report's chart (blocking: the report writer calls it in a worker thread)."""
        from skimd.infrastructure.notifications.render_child import spec_to_json

        request = {"op": "report_chart", "tz": zone_key(tz), "spec": spec_to_json(spec)}
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module
                self._command, input=json.dumps(request).encode(), capture_output=True,
                env=child_env(), timeout=self._timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            raise self._timed_out() from None
        except OSError as exc:
            raise RendererUnavailableError(
                f"render helper could not be started ({exc.strerror})"
            ) from None
        answer = _answer(done.returncode, done.stdout, done.stderr)
        try:
            return base64.b64decode(answer["png"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RendererUnavailableError("render helper: unreadable answer") from exc

    async def aclose(self) -> None:
        """Stop the worker, if one runs."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.returncode is None:
            if worker.stdin is not None:
                worker.stdin.close()
            try:
                await asyncio.wait_for(worker.wait(), 5)
            except TimeoutError:
                worker.kill()
                await worker.wait()

    async def _ask(self, request: dict[str, Any]) -> Any:
        """One request to the worker (started if none runs); a worker that died idle
        between two requests is replaced and asked again, once."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            fresh = self._worker is None or self._worker.returncode is not None
            try:
                return await self._exchange(request)
            except _WorkerGone as gone:
                if fresh:
                    raise RendererUnavailableError(f"render helper failed ({gone})") from None
                try:
                    return await self._exchange(request)
                except _WorkerGone as again:
                    raise RendererUnavailableError(f"render helper failed ({again})") from None

    async def _exchange(self, request: dict[str, Any]) -> Any:
        worker = await self._running()
        assert worker.stdin is not None and worker.stdout is not None
        try:
            worker.stdin.write(json.dumps(request).encode() + b"\n")
            await worker.stdin.drain()
            line = await asyncio.wait_for(worker.stdout.readline(), self._timeout_s)
        except TimeoutError:
            await self._kill(worker)
            raise self._timed_out() from None
        except (BrokenPipeError, ConnectionResetError):
            raise _WorkerGone(await self._kill(worker)) from None
        except BaseException:
            await self._kill(worker)
            raise
        if not line:
            raise _WorkerGone(await self._kill(worker))
        try:
            answer = json.loads(line)
        except ValueError:
            await self._kill(worker)
            raise RendererUnavailableError("render helper: unreadable answer") from None
        if isinstance(answer, dict) and "error" in answer:
            raise RendererUnavailableError(f"render helper failed ({answer['error']})")
        return answer

    async def _running(self) -> asyncio.subprocess.Process:
        if self._worker is not None and self._worker.returncode is None:
            return self._worker
        try:
            self._worker = await asyncio.create_subprocess_exec(
                *self._serve,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=child_env(),
            )
        except OSError as exc:
            raise RendererUnavailableError(
                f"render helper could not be started ({exc.strerror})"
            ) from None
        self.started += 1
        return self._worker

    async def _kill(self, worker: asyncio.subprocess.Process) -> str:
        """Stop ``worker`` (if it still runs) and say how it ended."""
        if self._worker is worker:
            self._worker = None
        if worker.returncode is None:
            worker.kill()
        code = await worker.wait()
        return f"killed by signal {-code}" if code < 0 else f"exit {code}"

    def _timed_out(self) -> RendererUnavailableError:
        return RendererUnavailableError(
            f"render helper did not answer within {self._timeout_s:g} s"
        )


class _WorkerGone(Exception):
    """The worker's pipe closed before it answered (it exited); the text says how."""


def zone_key(tz: tzinfo) -> str:
    """The IANA name the child rebuilds ``tz`` from (the market zone is always one)."""
    key = getattr(tz, "key", None)
    if not isinstance(key, str):
        raise ValueError(f"the render helper needs an IANA zone, not {tz!r}")
    return key


def child_command() -> list[str]:
    """This interpreter at its own optimisation level, without the user site or the
    current directory on the path (``-s -P``); no data in argv."""
    optimise = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
    return [sys.executable, "-s", "-P", *optimise, "-m", CHILD_MODULE]


def child_env() -> dict[str, str]:
    """The few variables the interpreter needs and where skimd is imported from; nothing
    of skimd's configuration."""
    env = minimal_env()
    env["PYTHONPATH"] = str(Path(skimd.__file__).resolve().parent.parent)
    return env


def _answer(code: int, out: bytes, err: bytes) -> Any:
    if code != 0:
        raise RendererUnavailableError(
            f"render helper failed ({failure(code, err, _EXCEPTION_NAME)})"
        )
    try:
        return json.loads(out)
    except ValueError:
        raise RendererUnavailableError("render helper: unreadable answer") from None
