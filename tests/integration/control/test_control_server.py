"""The control socket's transport on a real Unix socket: file mode, stale sockets, framing,
limits, and a foreign uid refused by the peer-credential check (not only by the file mode)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from skimd.errors import ConfigurationError, DaemonReplyError, InvalidInputError
from skimd.infrastructure.control.client import ControlClient
from skimd.infrastructure.control.server import ControlServer
from skimd.services.ports.control import Peer


class EchoHandler:
    """A ControlHandler that answers who asked what, and refuses ``bad``."""

    async def handle(self, peer: Peer, cmd: str, args: Mapping[str, Any]) -> Any:
        if cmd == "bad":
            raise InvalidInputError("bad: refused")
        if cmd == "boom":
            raise RuntimeError("a bug")
        return {"cmd": cmd, "args": dict(args), "uid": peer.uid, "pid": peer.pid}


def raw_exchange(path: Path, payload: bytes) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


async def serving(path: Path, **kwargs: Any) -> ControlServer:
    server = ControlServer(path, EchoHandler(), **kwargs)
    await server.start()
    return server


def test_listens_at_0660_answers_with_the_kernels_peer_and_removes_its_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run" / "skimd.sock"

    async def scenario() -> tuple[Any, int, bool]:
        server = await serving(path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        answer = await asyncio.to_thread(ControlClient(path).call, "hello", {"x": 1})
        await server.close()
        return answer, mode, path.exists()

    answer, mode, left = asyncio.run(scenario())
    assert mode == 0o660
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o750
    assert answer == {"cmd": "hello", "args": {"x": 1}, "uid": os.getuid(), "pid": os.getpid()}
    assert not left


def test_errors_bad_json_and_bugs_are_answered_and_the_connection_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "skimd.sock"
    requests = b"".join(
        [
            b'{"v": 1, "cmd": "bad"}\n',
            b"{not json\n",
            b'{"v": 9, "cmd": "status"}\n',
            b'{"v": 1, "cmd": "boom"}\n',
            b'{"v": 1, "cmd": "still-here"}\n',
        ]
    )

    async def scenario() -> list[dict[str, Any]]:
        server = await serving(path)
        try:
            return await asyncio.to_thread(raw_exchange, path, requests)
        finally:
            await server.close()

    replies = asyncio.run(scenario())
    assert [r["ok"] for r in replies] == [False, False, False, False, True]
    assert replies[0] == {"v": 1, "ok": False, "error": "bad: refused", "exit_code": 65}
    assert "not a JSON object" in replies[1]["error"]
    assert "version 9 not supported" in replies[2]["error"]
    assert replies[3]["error"] == "unexpected RuntimeError: a bug"
    assert replies[3]["exit_code"] == 70
    assert replies[4]["result"]["cmd"] == "still-here"


def test_a_request_over_the_size_limit_is_refused_and_the_connection_closed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "skimd.sock"
    huge = b'{"v": 1, "cmd": "x", "args": {"pad": "' + b"a" * 5000 + b'"}}\n'

    async def scenario() -> list[dict[str, Any]]:
        server = await serving(path, max_request_bytes=1024)
        try:
            return await asyncio.to_thread(
                raw_exchange, path, huge + b'{"v": 1, "cmd": "after"}\n'
            )
        finally:
            await server.close()

    replies = asyncio.run(scenario())
    assert replies == [
        {"v": 1, "ok": False, "error": "request longer than 1024 bytes", "exit_code": 65}
    ]


def test_a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "skimd.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a daemon that was killed

    async def replaced() -> Any:
        server = await serving(path)
        try:
            live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with live, pytest.raises(ConfigurationError, match="another daemon answers"):
                await ControlServer(path, EchoHandler()).start()
            assert path.exists()  # the live one was left alone
            return await asyncio.to_thread(ControlClient(path).call, "ping")
        finally:
            await server.close()

    assert asyncio.run(replaced())["cmd"] == "ping"

    path.write_text("not a socket", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a socket is in the way"):
        asyncio.run(ControlServer(path, EchoHandler()).start())
    assert path.read_text(encoding="utf-8") == "not a socket"


def test_a_path_too_long_for_a_unix_socket_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 120) / "skimd.sock"
    with pytest.raises(ConfigurationError, match="runtime_dir"):
        asyncio.run(ControlServer(path, EchoHandler()).start())


CHILD = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"v": 1, "cmd": "status"}\\n')
except BrokenPipeError:  # refused at once: the refusal is there to read
    pass
print(s.makefile("rb").readline().decode())
"""


SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.mark.skipif(
    os.getuid() != 0 or SYSTEM_PYTHON is None,
    reason="needs root (to connect as another uid) and a system python3",
)
def test_a_foreign_uid_is_refused_by_the_peer_check_even_through_an_open_file_mode() -> None:
    """The file mode is opened up so the kernel lets the stranger connect: the server's own
    check must still refuse (one line, exit code 77) and never run the command."""
    nobody = 65534
    with tempfile.TemporaryDirectory(prefix="skimd-peer-") as folder:
        Path(folder).chmod(0o755)  # pytest's tmp_path is private to root
        path = Path(folder) / "run" / "skimd.sock"
        reply = json.loads(asyncio.run(_as_stranger(path, nobody)))
    assert reply["ok"] is False and reply["exit_code"] == 77
    assert "uid 65534" in reply["error"] and "may not use" in reply["error"]
    assert "result" not in reply


async def _as_stranger(path: Path, uid: int) -> str:
    assert SYSTEM_PYTHON is not None
    server = await serving(path)
    path.parent.chmod(0o755)
    path.chmod(0o666)
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [SYSTEM_PYTHON, "-I", "-c", CHILD, str(path)],
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
    finally:
        await server.close()
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


def test_the_client_reports_a_refusal_with_the_daemons_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "skimd.sock"

    async def scenario() -> DaemonReplyError:
        server = await serving(path)
        try:
            with pytest.raises(DaemonReplyError) as caught:
                await asyncio.to_thread(ControlClient(path).call, "bad")
            return caught.value
        finally:
            await server.close()

    error = asyncio.run(scenario())
    assert error.exit_code == 65 and str(error) == "daemon: bad: refused"


def test_the_data_dirs_tidy_leaves_a_control_socket_alone(tmp_path: Path) -> None:
    """A killed daemon's socket (0660 on purpose) is not a loose file to tighten and warn
    about; the next daemon replaces it."""
    from skimd.infrastructure.database.private_files import loose_paths

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(data / "skimd.sock"))
    dead.close()
    (data / "skimd.sock").chmod(0o660)
    (data / "open.txt").write_text("x", encoding="utf-8")
    (data / "open.txt").chmod(0o644)
    assert loose_paths(data) == [data / "open.txt"]
