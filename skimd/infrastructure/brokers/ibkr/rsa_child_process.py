"""IBKR OAuth's RSA key operations in a short-lived child process: the daemon's choice.

Each call starts ``python -I .../rsa_child.py`` (this interpreter, the child module run as a
script: it imports only the standard library and cryptography, so it runs however skimd
itself was installed or put on the path), writes the
request (key file paths and the data to decrypt or sign) to its stdin and reads the answer
from its stdout; the child reads the keys itself and exits. So cryptography (≈7 MB
resident) is never loaded into the long-running daemon, which needs a private key only to
derive a live session token. A call costs a process start (≈50 ms); the daemon makes one
at start-up (checking both key files) and one or two per new token.

Nothing secret is put in argv or the environment: the child gets a minimal environment
(``PATH``, locale and library path, no ``SKIMD__*``/credentials variables) and isolated
mode (``-I``: no ``PYTHON*`` variables, no user site, not even the script's own directory
on ``sys.path``, so nothing beside it can shadow a module). The child's stderr is never shown
(only the name of the exception it died of, when it printed one). A child that exits
non-zero, is killed, does not answer within ``timeout_s`` (a wall-clock limit on an OS
process, not trading time) or answers garbage is BrokerUnavailableError.

Under systemd the unit must allow the daemon to start processes (``execve``/``fork``, the
``@process`` system-call set) and to execute the Python interpreter.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skimd.errors import BrokerUnavailableError
from skimd.infrastructure.brokers.ibkr.rsa_keys import RequestRsaKeys
from skimd.infrastructure.child_processes import failure, minimal_env

# The child's file, found without importing it (that would load cryptography here).
CHILD_SCRIPT = Path(__file__).with_name("rsa_child.py")
DEFAULT_TIMEOUT_S = 30.0
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]{0,80}(?:Error|Exception|Exit|Interrupt))\b")


class ChildProcessRsaKeys(RequestRsaKeys):
    """``command`` replaces the child's argv (tests start a crashing or lying child)."""

    def __init__(
        self, *, timeout_s: float = DEFAULT_TIMEOUT_S, command: Sequence[str] | None = None
    ) -> None:
        self._timeout_s = timeout_s
        self._command = list(command or child_command())

    def __repr__(self) -> str:
        return f"ChildProcessRsaKeys(timeout_s={self._timeout_s:g})"

    def _exchange_now(self, request: dict[str, Any]) -> Any:
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module
                self._command,
                input=json.dumps(request).encode(),
                capture_output=True,
                env=child_env(),
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise self._timed_out() from None
        except OSError as exc:
            raise BrokerUnavailableError(
                f"IBKR key helper could not be started ({exc.strerror})"
            ) from None
        return _answer(done.returncode, done.stdout, done.stderr)

    async def _exchange(self, request: dict[str, Any]) -> Any:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=child_env(),
            )
        except OSError as exc:
            raise BrokerUnavailableError(
                f"IBKR key helper could not be started ({exc.strerror})"
            ) from None
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(json.dumps(request).encode()), self._timeout_s
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise self._timed_out() from None
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        assert proc.returncode is not None
        return _answer(proc.returncode, out, err)

    def _timed_out(self) -> BrokerUnavailableError:
        return BrokerUnavailableError(
            f"IBKR key helper did not answer within {self._timeout_s:g} s"
        )


def child_command() -> list[str]:
    """The argv that starts the child (no data in it)."""
    return [sys.executable, "-I", str(CHILD_SCRIPT)]


def child_env() -> dict[str, str]:
    """The few variables the interpreter needs; nothing of skimd's configuration."""
    return minimal_env()


def _answer(code: int, out: bytes, err: bytes) -> Any:
    if code != 0:
        raise BrokerUnavailableError(
            f"IBKR key helper failed ({failure(code, err, _EXCEPTION_LINE)})"
        )
    try:
        return json.loads(out)
    except ValueError:
        raise BrokerUnavailableError("IBKR key helper: unreadable answer") from None
