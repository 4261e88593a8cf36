"""What skimd's short-lived helper processes share (the IBKR key child, the render helper):
the few environment variables an interpreter needs, and how a child that failed is told in
one line without ever showing what it printed beyond an exception's name."""

from __future__ import annotations

import os
import re

PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH")


def minimal_env() -> dict[str, str]:
    """The few variables the interpreter needs; nothing of skimd's configuration."""
    return {name: os.environ[name] for name in PASSED_ENV if name in os.environ}


def failure(code: int, err: bytes, name: re.Pattern[str]) -> str:
    """``exit N`` or ``killed by signal N``, with the exception named on the last line of
    ``err`` when ``name`` (its group 1) matches there; never the message after it."""
    how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    lines = err.decode(errors="replace").strip().splitlines()
    match = name.match(lines[-1]) if lines else None
    return f"{how}, {match.group(1)}" if match else how
