"""Today's alert stream pushed to the browser: Server-Sent Events (``text/event-stream``).

``GET /alerts/stream`` answers each alert stored in the daemon's alert outbox after the
one the page shows last (``?after=ID``; on a reconnect the browser's ``Last-Event-ID``
wins), oldest first, as ``event: alert`` with the outbox id as the event id and the
alert as JSON (as the Today table shows it: ``at``, ``severity``, ``alert``, ``text``).
The outbox is read every ``poll`` (a read-only unit of work: safe beside the daemon, and
the same with or without one, since every alert is stored before it is sent).

The stream needs a live session (else 401: an EventSource cannot log in) and ends when
that session ends, and in any case after ``polls`` reads; the browser then reconnects by
itself from the last id it got, so no stream outlives a logout by more than one poll or
runs forever for a tab closed behind a proxy that never says so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from skimd.web.desk import Desk

RETRY_MS = 3000  # how long the browser waits before reconnecting
KEEPALIVE_POLLS = 10  # a comment line after this many quiet polls keeps proxies from closing


def alert_stream_response(
    request: Request,
    desk: Desk,
    signed_in: Callable[[], bool],
    *,
    poll: timedelta,
    polls: int,
) -> Response:
    if not signed_in():
        return Response("log in first", status_code=401, media_type="text/plain")
    try:
        after = _after(request)
    except ValueError:
        return Response("after: not an alert id", status_code=400, media_type="text/plain")
    events = alert_events(desk, after, signed_in, poll=poll, polls=polls)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # a reverse proxy must not hold events back
    )


async def alert_events(
    desk: Desk,
    after: int | None,
    signed_in: Callable[[], bool],
    *,
    poll: timedelta,
    polls: int,
) -> AsyncIterator[str]:
    """The event stream's text: ``retry``, then each new alert as it is stored."""
    yield f"retry: {RETRY_MS}\n\n"
    last = after
    if last is None:
        _, last = await run_in_threadpool(desk.alerts_after, None)
    quiet = 0
    for _ in range(polls):
        if not signed_in():
            return
        found, last = await run_in_threadpool(desk.alerts_after, last)
        for alert in found:
            data = {k: alert.get(k) for k in ("at", "severity", "alert", "text")}
            yield f"id: {alert['id']}\nevent: alert\ndata: {json.dumps(data)}\n\n"
        quiet = 0 if found else quiet + 1
        if quiet >= KEEPALIVE_POLLS:
            quiet = 0
            yield ": keepalive\n\n"
        await anyio.sleep(poll.total_seconds())


def _after(request: Request) -> int | None:
    """Where the stream starts: the ``Last-Event-ID`` of a reconnect, else ``?after``,
    else after the newest alert stored now (None)."""
    text = request.headers.get("last-event-id") or request.query_params.get("after")
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(text)
    return int(text)
