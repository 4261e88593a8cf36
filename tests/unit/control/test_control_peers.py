"""Who may use the control socket: root, the daemon's user, members of the socket's group."""

from __future__ import annotations

import os
import socket

import pytest

from skimd.infrastructure.control.peers import groups_of, peer_allowed, peer_of

DAEMON = 990  # the service user, e.g. skim
SKIM_GROUP = 990
OPERATOR = 1000
STRANGER = 1001


@pytest.mark.parametrize(
    ("uid", "groups", "allowed"),
    [
        (0, frozenset({0}), True),  # root, in no skim group
        (DAEMON, frozenset({DAEMON}), True),  # the daemon's own user
        (OPERATOR, frozenset({1000, SKIM_GROUP}), True),  # a supplementary member
        (OPERATOR, frozenset({SKIM_GROUP}), True),  # primary group skim
        (STRANGER, frozenset({1001, 100}), False),  # not in the group
        (STRANGER, frozenset(), False),
    ],
)
def test_the_peer_rule(uid: int, groups: frozenset[int], allowed: bool) -> None:
    assert (
        peer_allowed(uid, daemon_uid=DAEMON, socket_gid=SKIM_GROUP, member_gids=groups) is allowed
    )


def test_a_daemon_run_by_root_lets_in_only_root_and_the_group() -> None:
    assert peer_allowed(0, daemon_uid=0, socket_gid=SKIM_GROUP, member_gids={0})
    assert not peer_allowed(OPERATOR, daemon_uid=0, socket_gid=SKIM_GROUP, member_gids={1000})
    assert peer_allowed(OPERATOR, daemon_uid=0, socket_gid=SKIM_GROUP, member_gids={SKIM_GROUP})


def test_groups_come_from_the_user_database_and_the_kernels_gid() -> None:
    uid, gid = os.getuid(), os.getgid()
    assert gid in groups_of(uid, gid)
    assert 4242 in groups_of(uid, 4242)  # the process's own gid counts, as the kernel said
    assert groups_of(2_000_000_000, 7) == frozenset({7})  # no such account: only that


def test_peer_credentials_are_the_kernels() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        peer = peer_of(left)
    assert (peer.pid, peer.uid, peer.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert peer.name
