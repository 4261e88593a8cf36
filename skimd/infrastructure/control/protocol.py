"""Control protocol v1: one JSON object per line, UTF-8, each way.

Request: ``{"v": 1, "cmd": "<command>", "args": {...}}`` (``args`` optional).
Reply: ``{"v": 1, "ok": true, "result": <any>}`` or
``{"v": 1, "ok": false, "error": "<one line>", "exit_code": <n>}``.
A streaming command (``tail``) answers ``ok`` with ``{"streaming": true}`` and then sends
``{"v": 1, "event": {...}}`` lines until the client closes the connection.

A request longer than :data:`MAX_REQUEST_BYTES`, one that is not a JSON object, or one of
another version is refused by name; the daemon never guesses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from skimd.errors import InvalidInputError, SkimdError

VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024
EX_NOPERM = 77


class ProtocolError(InvalidInputError):
    """A request the daemon cannot read (bad JSON, wrong version, missing command)."""


@dataclass(frozen=True)
class Request:
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)


def encode(message: dict[str, Any]) -> bytes:
    """One line: compact JSON (times and decimals as text) and a newline."""
    return (json.dumps(message, default=str, separators=(",", ":")) + "\n").encode("utf-8")


def request(cmd: str, args: dict[str, Any] | None = None) -> bytes:
    return encode({"v": VERSION, "cmd": cmd, "args": args or {}})


def ok(result: Any) -> bytes:
    return encode({"v": VERSION, "ok": True, "result": result})


def error(message: str, exit_code: int) -> bytes:
    one_line = " ".join(message.split()) or "error"
    return encode({"v": VERSION, "ok": False, "error": one_line, "exit_code": exit_code})


def failure(exc: SkimdError) -> bytes:
    return error(str(exc), exc.exit_code)


def event(payload: dict[str, Any]) -> bytes:
    return encode({"v": VERSION, "event": payload})


def parse_request(line: bytes) -> Request:
    """The request on ``line``; raises ProtocolError naming what is wrong with it."""
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("request is not a JSON object on one line") from None
    if not isinstance(data, dict):
        raise ProtocolError("request is not a JSON object on one line")
    version = data.get("v")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version!r} not supported (this daemon speaks v1)")
    cmd = data.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise ProtocolError("request has no command ('cmd')")
    args = data.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError(f"{cmd}: 'args' must be an object")
    unknown = sorted(set(data) - {"v", "cmd", "args"})
    if unknown:
        raise ProtocolError(f"request has unknown field(s) {', '.join(unknown)}")
    return Request(cmd, args)


def parse_reply(line: bytes) -> dict[str, Any]:
    """A reply or event line from the daemon; raises ProtocolError for anything else."""
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("the daemon's reply is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise ProtocolError(f"the daemon's reply is not control protocol v{VERSION}")
    return data
