"""The daemon's control socket: a Unix stream socket served on the daemon's event loop.

Start (:meth:`ControlServer.start`, called by the daemon while it holds the data dir's
instance lock): create the runtime directory if missing (0750), replace a socket file left
by a daemon that died (one that still answers is refused, never replaced), bind, then set
the file's mode to 0660: the owner and the file's group may connect. The group is the one
the runtime directory gives (systemd's ``RuntimeDirectory=`` with the unit's ``Group=``,
``skim`` in production). Every connection's peer credentials are checked
(:mod:`.peers`); a refused peer gets one error line and is disconnected. Close: stop
listening, end every connection (a ``tail`` included) and remove the socket file if it is
still ours.

A connection may send several requests, one per line, each answered in turn; a ``tail``
streams until the client disconnects. No threads: everything runs on the loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

import structlog

from skimd.errors import EX_SOFTWARE, ConfigurationError, SkimdError
from skimd.infrastructure.control import protocol
from skimd.infrastructure.control.peers import group_name, groups_of, peer_allowed, peer_of
from skimd.services.ports.control import ControlHandler, Peer, Stream

log = structlog.get_logger("skimd.control")

SOCKET_MODE = 0o660
RUNTIME_DIR_MODE = 0o750
MAX_PATH_BYTES = 107  # sockaddr_un.sun_path, less its terminating NUL


class ControlServer:
    def __init__(
        self,
        path: Path,
        handler: ControlHandler,
        *,
        max_request_bytes: int = protocol.MAX_REQUEST_BYTES,
    ) -> None:
        self.path = path
        self._handler = handler
        self._limit = max_request_bytes
        self._daemon_uid = os.getuid()
        self._server: asyncio.AbstractServer | None = None
        self._identity: tuple[int, int] | None = None
        self._gid = -1
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def socket_gid(self) -> int:
        return self._gid

    @property
    def listening(self) -> bool:
        return self._server is not None and self._identity is not None

    async def start(self) -> None:
        """Listen on :attr:`path`; ConfigurationError naming the path when that is not
        possible (too long, not creatable, another daemon answering there)."""
        if len(os.fsencode(self.path)) > MAX_PATH_BYTES:
            raise ConfigurationError(
                f"control socket {self.path}: path longer than {MAX_PATH_BYTES} bytes; "
                "set [paths] runtime_dir to a shorter directory"
            )
        try:
            self.path.parent.mkdir(mode=RUNTIME_DIR_MODE, parents=True, exist_ok=True)
            self._remove_stale()
            self._server = await asyncio.start_unix_server(
                self._serve, path=os.fspath(self.path), limit=self._limit
            )
            os.chmod(self.path, SOCKET_MODE)
            info = os.stat(self.path)
        except OSError as exc:
            await self.close()
            raise ConfigurationError(
                f"control socket {self.path}: cannot listen ({exc.strerror or exc})"
            ) from exc
        self._identity = (info.st_dev, info.st_ino)
        self._gid = info.st_gid
        log.info("control socket listening", path=str(self.path), group=group_name(self._gid))

    async def serve(self) -> bool:
        """:meth:`start`, but a failure is logged rather than raised (the daemon trades
        on without the socket: ``status`` and ``guard`` still reach the database); whether
        it listens."""
        try:
            await self.start()
        except ConfigurationError as exc:
            log.error("control socket unavailable", error=str(exc))
            return False
        return True

    def _remove_stale(self) -> None:
        """Remove a socket file no daemon answers on; refuse anything else in its place."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ConfigurationError(
                f"control socket {self.path}: a file that is not a socket is in the way"
            )
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(self.path))
        except OSError:  # refused: its daemon is gone
            self.path.unlink(missing_ok=True)
            log.info("stale control socket replaced", path=str(self.path))
            return
        finally:
            probe.close()
        raise ConfigurationError(
            f"control socket {self.path}: another daemon answers there (a shared runtime_dir?)"
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._identity is not None:
            with suppress(OSError):
                info = os.lstat(self.path)
                if (info.st_dev, info.st_ino) == self._identity:
                    self.path.unlink()
            self._identity = None

    # -- one connection ------------------------------------------------------------------------

    def allows(self, peer: Peer) -> bool:
        return peer_allowed(
            peer.uid,
            daemon_uid=self._daemon_uid,
            socket_gid=self._gid,
            member_gids=groups_of(peer.uid, peer.gid),
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            peer = peer_of(writer.get_extra_info("socket"))
            if not self.allows(peer):
                log.warning("control connection refused", uid=peer.uid, pid=peer.pid)
                writer.write(
                    protocol.error(
                        f"{peer.name} (uid {peer.uid}) may not use {self.path}: only root, "
                        f"the daemon's user and group {group_name(self._gid)} may",
                        protocol.EX_NOPERM,
                    )
                )
                await writer.drain()
                return
            await self._requests(peer, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            writer.close()
            with suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def _requests(
        self, peer: Peer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than the limit: the rest of it cannot be framed
                writer.write(
                    protocol.failure(
                        protocol.ProtocolError(f"request longer than {self._limit} bytes")
                    )
                )
                await writer.drain()
                return
            if not line:
                return
            try:
                request = protocol.parse_request(line)
                log.info("control request", cmd=request.cmd, uid=peer.uid, pid=peer.pid)
                result = await self._handler.handle(peer, request.cmd, request.args)
            except SkimdError as exc:
                writer.write(protocol.failure(exc))
            except Exception as exc:  # a bug in a handler: the daemon carries on
                log.exception("control request failed", uid=peer.uid)
                writer.write(protocol.error(f"unexpected {type(exc).__name__}: {exc}", EX_SOFTWARE))
            else:
                if isinstance(result, Stream):
                    writer.write(protocol.ok({"streaming": True}))
                    await writer.drain()
                    await _stream(result, reader, writer)
                    return
                writer.write(protocol.ok(result))
            await writer.drain()


async def _stream(
    events: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Send ``events`` until they end or the client closes its side (or sends anything)."""
    gone = asyncio.ensure_future(reader.read(1))
    source = events.__aiter__()
    upcoming: asyncio.Future[Any] | None = None
    try:
        while True:
            upcoming = asyncio.ensure_future(_next(source))
            done, _ = await asyncio.wait({upcoming, gone}, return_when=asyncio.FIRST_COMPLETED)
            if upcoming not in done:
                return
            payload = upcoming.result()
            if payload is None:
                return
            writer.write(protocol.event(payload))
            await writer.drain()
    finally:
        for pending in (gone, upcoming):
            if pending is not None and not pending.done():
                pending.cancel()
        events.close()


async def _next(source: Any) -> Any:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return None
