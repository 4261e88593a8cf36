"""The render helper: run as ``python -m skimd.infrastructure.notifications.render_child``
by :mod:`.message_renderers`, one request per process.

Reads one JSON request from stdin, writes one JSON answer to stdout, exits (or, with
``--serve IDLE_S``, answers one request per line until idle for ``IDLE_S`` seconds):

- ``{"op": "discord", "alert": <alert_codec payload>, "tz": "Australia/Sydney",
  "charts": true, "username": "skimd", "plain": false}`` → ``{"messages": [{"body": {...},
  "files": [[name, base64], ...]}, ...]}`` (:func:`.discord_messages.compose` /
  :func:`~.discord_messages.compose_plain`);
- ``{"op": "report_chart", "tz": ..., "spec": {"title", "path": [[iso, price]], "levels":
  [[label, price, kind]], "marks": [[label, iso, price, side]], "profitable"}}`` →
  ``{"png": base64}`` (:func:`.report_charts.report_chart_renderer`).

It is here so Pillow and discord-webhook (with ``requests``) live only in this process,
never in the daemon. A request it cannot read ends it with exit 2 and the exception's name
on stderr; the request carries no secret (alerts never do), and no webhook URL is given.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo


def answer(request: dict[str, Any]) -> dict[str, Any]:
    tz = ZoneInfo(request["tz"])
    if request["op"] == "discord":
        from skimd.infrastructure.alert_codec import alert_from_payload
        from skimd.infrastructure.notifications import discord_messages

        alert = alert_from_payload(request["alert"])
        if request.get("plain"):
            composed = discord_messages.compose_plain(alert, tz=tz, username=request["username"])
        else:
            composed = discord_messages.compose(
                alert, tz=tz, charts=bool(request["charts"]), username=request["username"]
            )
        return {"messages": [{"body": body, "files": [[n, _b64(d)] for n, d in files]}
                             for body, files in composed]}
    if request["op"] == "report_chart":
        from skimd.infrastructure.notifications.report_charts import report_chart_renderer

        return {"png": _b64(report_chart_renderer(tz)(spec_from_json(request["spec"])))}
    raise ValueError(f"unknown op {request['op']!r}")


def spec_to_json(spec: Any) -> dict[str, Any]:
    """A :class:`~skimd.services.ports.reports.ChartSpec` as JSON-safe values."""
    return {
        "title": spec.title,
        "path": [[p.at.isoformat(), str(p.price)] for p in spec.path],
        "levels": [[lv.label, str(lv.price), lv.kind] for lv in spec.levels],
        "marks": [[m.label, m.at.isoformat(), str(m.price), m.side] for m in spec.marks],
        "profitable": spec.profitable,
    }


def spec_from_json(data: dict[str, Any]) -> Any:
    from skimd.domain.market import PricePoint
    from skimd.services.ports.reports import ChartLevel, ChartMark, ChartSpec

    return ChartSpec(
        title=data["title"],
        path=tuple(PricePoint(datetime.fromisoformat(at), Decimal(p)) for at, p in data["path"]),
        levels=tuple(ChartLevel(label, Decimal(p), kind) for label, p, kind in data["levels"]),
        marks=tuple(ChartMark(label, datetime.fromisoformat(at), Decimal(p), side)
                    for label, at, p, side in data["marks"]),
        profitable=bool(data["profitable"]),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    """One request on stdin, its answer on stdout; with ``--serve IDLE_S``: one request per
    line, one answer per line, until stdin closes or no request came for ``IDLE_S``
    seconds (the daemon's worker for a burst of alerts)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--serve"]:
        return _serve(float(args[1]) if len(args) > 1 else 30.0)
    try:
        request = json.loads(sys.stdin.buffer.read())
        out = answer(request)
    except Exception as exc:  # the parent shows only the exception's name
        print(type(exc).__name__, file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(out))
    return 0


def _serve(idle_s: float) -> int:
    import select

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], idle_s)
        if not ready:
            return 0  # idle: the next alert starts a fresh worker
        line = stdin.readline()
        if not line:
            return 0
        try:
            out = answer(json.loads(line))
        except Exception as exc:  # the parent shows only the exception's name
            out = {"error": type(exc).__name__}
        stdout.write(json.dumps(out).encode() + b"\n")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
