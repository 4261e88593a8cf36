"""The control channel as the services see it: who is asking, and what answers them.

``skimd.infrastructure.control`` implements the transport (a Unix socket, peer credentials
from the kernel, one JSON object per line); :class:`skimd.services.control.DaemonControl`
is the handler that carries requests out inside the daemon.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Peer:
    """The process at the other end of a control connection, as the kernel reported it
    (``SO_PEERCRED``): never what the client claims. ``name`` is the uid's login name,
    or ``uid <n>`` when the system has none."""

    pid: int
    uid: int
    gid: int
    name: str


@runtime_checkable
class Stream(Protocol):
    """A reply that goes on: events until the client disconnects (``tail``)."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    def close(self) -> None:
        """Stop producing (the client went away); idempotent."""
        ...


class ControlHandler(Protocol):
    async def handle(self, peer: Peer, cmd: str, args: Mapping[str, Any]) -> Any:
        """The JSON-able result of ``cmd``, or a :class:`Stream` of events. Raises a
        :class:`~skimd.errors.SkimdError` (sent back as one line with its exit code)."""
        ...
