"""What a command uses to reach the running daemon over its control socket (blocking:
commands are synchronous and ask one thing at a time).

No daemon (no socket file, or nobody listening on it) is :class:`DaemonUnavailableError`,
so a command with a fallback can take it; a daemon that answers with an error, or a socket
the caller may not use, is :class:`DaemonReplyError` with the exit code to use.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from contextlib import suppress
from pathlib import Path
from typing import Any

from skimd.errors import DaemonReplyError, DaemonUnavailableError
from skimd.infrastructure.control import protocol

CALL_TIMEOUT_S = 10.0  # then status and guard fall back to the database


class ControlClient:
    def __init__(self, path: Path, *, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.path = path
        self._timeout_s = timeout_s

    def call(
        self, cmd: str, args: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> Any:
        """Send one request; its result. Raises DaemonUnavailableError / DaemonReplyError."""
        limit = timeout_s or self._timeout_s
        with self._connect(limit) as sock, sock.makefile("rb") as answers:
            _send(sock, protocol.request(cmd, args))
            try:
                line = answers.readline()
            except ConnectionResetError:
                line = b""
            except TimeoutError:
                raise DaemonUnavailableError(
                    f"the skimd daemon on {self.path} did not answer {cmd} within {limit:g} s"
                ) from None
            return _result(self.path, line)

    def stream(
        self, cmd: str, args: dict[str, Any] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """Send a streaming request; its events as they come, until the daemon ends the
        stream (closing the iterator disconnects)."""
        with self._connect(self._timeout_s) as sock, sock.makefile("rb") as answers:
            _send(sock, protocol.request(cmd, args))
            _result(self.path, answers.readline())
            sock.settimeout(None)  # events come when they happen
            for line in answers:
                message = protocol.parse_reply(line)
                event = message.get("event")
                if isinstance(event, dict):
                    yield event

    def _connect(self, timeout_s: float) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        try:
            sock.connect(os.fspath(self.path))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            sock.close()
            raise DaemonUnavailableError(f"no skimd daemon answers on {self.path}") from None
        except PermissionError:
            sock.close()
            raise DaemonReplyError(
                f"{self.path}: permission denied (the daemon's user, root and the socket's "
                "group may use it)",
                protocol.EX_NOPERM,
            ) from None
        except OSError as exc:
            sock.close()
            raise DaemonUnavailableError(
                f"cannot reach the skimd daemon on {self.path} ({exc.strerror or exc})"
            ) from None
        return sock


def _send(sock: socket.socket, request: bytes) -> None:
    # Refused as soon as it connected: the daemon has closed, the reason is there to read.
    with suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(request)


def _result(path: Path, line: bytes) -> Any:
    if not line:
        raise DaemonUnavailableError(f"the skimd daemon on {path} closed the connection")
    reply = protocol.parse_reply(line)
    if reply.get("ok") is True:
        return reply.get("result")
    code = reply.get("exit_code")
    raise DaemonReplyError(
        f"daemon: {reply.get('error') or 'error'}", code if isinstance(code, int) else 70
    )
