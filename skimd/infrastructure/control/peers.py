"""Who is at the other end of a control connection, and whether they may use it.

The kernel reports the connecting process's pid, uid and gid (``SO_PEERCRED``, taken when
it connected); nothing the client sends is trusted. The rule (:func:`peer_allowed`): root,
the daemon's own user, and any user in the socket file's group (primary or supplementary,
from the user and group databases, or the process's own gid). The file's mode (0660) says
the same to the kernel; checking again here keeps the rule true if the socket's directory
or mode is ever looser than meant.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from collections.abc import Collection

from skimd.services.ports.control import Peer

_UCRED = struct.Struct("3i")  # struct ucred: pid_t pid; uid_t uid; gid_t gid


def peer_allowed(
    uid: int, *, daemon_uid: int, socket_gid: int, member_gids: Collection[int]
) -> bool:
    """Whether a peer running as ``uid`` (whose groups are ``member_gids``) may use a
    socket whose file belongs to group ``socket_gid``, served by ``daemon_uid``."""
    return uid == 0 or uid == daemon_uid or socket_gid in member_gids


def groups_of(uid: int, gid: int) -> frozenset[int]:
    """Every group ``uid`` is in by the user and group databases, plus ``gid`` (the peer
    process's own, as the kernel reported it)."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a uid with no account: only what the kernel said
        return frozenset({gid})
    return frozenset({gid, entry.pw_gid, *os.getgrouplist(entry.pw_name, entry.pw_gid)})


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def peer_of(sock: socket.socket) -> Peer:
    """The kernel's credentials of the process connected to ``sock`` (a Unix socket)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid=pid, uid=uid, gid=gid, name=user_name(uid))
