"""Commands that talk to the running daemon over its control socket: ``skimd jobs``,
``run-job``, ``tail``, ``flatten``, ``pause`` and ``resume``.

They need no secret: the config only says where the socket is (``[paths] runtime_dir``,
else the data dir), and the daemon does the work with its own credentials, journaling who
asked (the caller's uid, from the kernel). With no daemon they say so, naming the socket,
and exit 69 (EX_UNAVAILABLE): none of them has a meaning without one. ``status`` and
``guard`` use the socket too but fall back to the database (:mod:`.status`, :mod:`.guard`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from skimd import bootstrap

OK_OUTCOMES = ("ok", "skipped")
RUN_JOB_TIMEOUT_S = 600.0  # a job run now may take as long as its scheduled runs


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser(
        "jobs", parents=parents, help="the running daemon's jobs: last result and next run"
    )
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(handler=_jobs)

    run_job = subparsers.add_parser(
        "run-job", parents=parents, help="run one of the daemon's jobs now (e.g. sync, news)"
    )
    run_job.add_argument("name", help="the job (see `skimd jobs`)")
    run_job.add_argument("--json", action="store_true", help="print JSON")
    run_job.set_defaults(handler=_run_job)

    tail = subparsers.add_parser(
        "tail", parents=parents, help="stream the daemon's alerts and job runs as they happen"
    )
    tail.add_argument(
        "--kind", metavar="K", help="only events of kind K: alert, job, an alert kind or a job"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    tail.set_defaults(handler=_tail)

    flatten = subparsers.add_parser(
        "flatten", parents=parents, help="exit positions now (protection kept until filled)"
    )
    which = flatten.add_mutually_exclusive_group(required=True)
    which.add_argument("ticker", nargs="?", help="the position's ticker")
    which.add_argument("--all", action="store_true", help="every open position")
    flatten.add_argument("--reason", help="why (journaled and alerted)")
    flatten.set_defaults(handler=_flatten)

    pause = subparsers.add_parser(
        "pause", parents=parents, help="no new entries or stop moves for a ticker"
    )
    pause.add_argument("ticker")
    pause.add_argument("--reason", help="why (journaled and alerted)")
    pause.set_defaults(handler=_pause)

    resume = subparsers.add_parser(
        "resume", parents=parents, help="undo `skimd pause` for a ticker"
    )
    resume.add_argument("ticker")
    resume.set_defaults(handler=_resume)


def ask(
    args: argparse.Namespace,
    cmd: str,
    params: dict[str, Any] | None = None,
    *,
    timeout_s: float | None = None,
) -> Any:
    """``cmd``'s result from the running daemon (DaemonUnavailableError when none runs)."""
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)  # to stderr: stdout is the answer
    return bootstrap.control_client(settings).call(cmd, params, timeout_s=timeout_s)


def warn_note(result: Any) -> None:
    """A daemon's note on a done action (e.g. not journaled), on stderr."""
    if isinstance(result, dict) and result.get("note"):
        print(f"skimd: warning: {result['note']}", file=sys.stderr)


def _jobs(args: argparse.Namespace) -> int:
    rows = ask(args, "jobs")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        last = row["last_outcome"]
        if row["last_finished_at"]:
            last += f" at {row['last_finished_at']}"
        if row["last_message"]:
            last += f": {row['last_message']}"
        print(f"{row['job']:<12} next {row['next_run'] or '-':<32} last {last}")
        print(f"{'':<12} {row['description']}")
    return 0


def _run_job(args: argparse.Namespace) -> int:
    result = ask(args, "run-job", {"name": args.name}, timeout_s=RUN_JOB_TIMEOUT_S)
    warn_note(result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        message = f": {result['message']}" if result["message"] else ""
        print(f"{result['job']}: {result['outcome']}{message}")
    return 0 if result["outcome"] in OK_OUTCOMES else 1


def _tail(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    bootstrap.setup_logging(settings)
    client = bootstrap.control_client(settings)
    events = client.stream("tail", {"kind": args.kind} if args.kind else {})
    try:
        for event in events:
            print(json.dumps(event) if args.json else describe_event(event), flush=True)
    finally:
        events.close()
    print("skimd: the daemon ended the stream", file=sys.stderr)
    return 0


def describe_event(event: dict[str, Any]) -> str:
    """One line for a tail event."""
    at = event.get("at") or "-"
    if event.get("kind") == "alert":
        severity = str(event.get("severity") or "").upper()
        return f"{at} alert {severity:<8} {event.get('alert')}: {event.get('text')}"
    if event.get("kind") == "job":
        message = f": {event['message']}" if event.get("message") else ""
        return f"{at} job   {event.get('outcome'):<8} {event.get('job')}{message}"
    return f"{at} {event.get('kind')}: {event.get('message', '')}"


def _print_lines(result: Any) -> None:
    for line in result.get("lines", []) if isinstance(result, dict) else []:
        print(line)


def _flatten(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"tickers": None if args.all else [args.ticker]}
    if args.reason:
        params["reason"] = args.reason
    _print_lines(ask(args, "flatten", params))
    return 0


def _pause(args: argparse.Namespace) -> int:
    params = {"ticker": args.ticker}
    if args.reason:
        params["reason"] = args.reason
    _print_lines(ask(args, "pause", params))
    return 0


def _resume(args: argparse.Namespace) -> int:
    _print_lines(ask(args, "resume", {"ticker": args.ticker}))
    return 0
