"""Run a command under the seccomp rules the shipped unit asks systemd to install.

systemd 252 (the version this targets) implements three of the unit's settings as seccomp
filters applied just before it execs ``ExecStart``; this module installs the same filters
through libseccomp (via ctypes, as systemd does through the C library) and then execs the
command, so the daemon's real workload can be tried against them without systemd as PID 1:

- ``SystemCallFilter=@system-service`` + ``~@privileged @resources`` with
  ``SystemCallErrorNumber=EPERM``: an allow-list; every other call fails with EPERM. The
  groups are expanded by ``systemd-analyze syscall-filter`` itself, so the list is the
  installed systemd's, not a copy.
- ``SystemCallArchitectures=native``: libseccomp's default context admits the native ABI
  only (a call through another ABI kills the process).
- ``MemoryDenyWriteExecute=yes``: systemd 252's rules (src/shared/seccomp-util.c,
  ``seccomp_memory_deny_write_execute``): EPERM for ``mmap`` asking for PROT_WRITE and
  PROT_EXEC together, for ``mprotect``/``pkey_mprotect`` asking for PROT_EXEC, and for
  ``shmat`` with SHM_EXEC.

What it does not reproduce (namespaces, mounts, capabilities) is not about which system
calls and mappings the Python runtime needs. Usage::

    python unit_sandbox.py [--errno|--kill] -- COMMAND ARGS...

``--kill`` (default ``--errno``) kills the process on a filtered call instead of returning
EPERM, so a call the workload makes cannot go unnoticed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import subprocess
import sys

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE = 0x2
PROT_EXEC = 0x4
SHM_EXEC = 0o100000

ALLOWED_GROUPS = ("@system-service",)
DENIED_GROUPS = ("@privileged", "@resources")


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def syscall_groups() -> dict[str, list[str]]:
    """Every ``@group`` and its members as the installed ``systemd-analyze`` lists them."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        raise RuntimeError("systemd-analyze is not installed")
    text = subprocess.run(
        [tool, "syscall-filter", "--no-pager"], check=True, capture_output=True, text=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"^@[\w-]+$", line):
            current = groups.setdefault(line, [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return groups


def expand(names: tuple[str, ...], groups: dict[str, list[str]]) -> set[str]:
    """System call names of ``names``, nested groups resolved."""
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            out |= expand(tuple(groups[name]), groups)
        else:
            out.add(name)
    return out


def unit_allow_list() -> set[str]:
    """The calls the unit's ``SystemCallFilter=`` lines leave allowed."""
    groups = syscall_groups()
    return expand(ALLOWED_GROUPS, groups) - expand(DENIED_GROUPS, groups)


def available() -> bool:
    """Whether libseccomp can be loaded here (it is a dependency of systemd)."""
    try:
        _lib()
    except OSError:
        return False
    return True


def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_rule_add_array.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    )
    lib.seccomp_load.argtypes = (ctypes.c_void_p,)
    return lib


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")


def install(*, kill: bool) -> None:
    """Load the unit's filters into this process (inherited by whatever it execs)."""
    lib = _lib()
    denied = SCMP_ACT_KILL_PROCESS if kill else scmp_act_errno(errno.EPERM)
    allow = lib.seccomp_init(denied)
    for name in sorted(unit_allow_list()):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # a name systemd knows for another architecture
            continue
        _check(lib.seccomp_rule_add_array(allow, SCMP_ACT_ALLOW, number, 0, None), name)
    mdwe = lib.seccomp_init(SCMP_ACT_ALLOW)
    rules = (
        ("mmap", PROT_WRITE | PROT_EXEC),
        ("mprotect", PROT_EXEC),
        ("pkey_mprotect", PROT_EXEC),
    )
    for name, mask in rules:
        cmp = _ArgCmp(2, SCMP_CMP_MASKED_EQ, mask, mask)
        number = lib.seccomp_syscall_resolve_name(name.encode())
        _check(lib.seccomp_rule_add_array(mdwe, denied, number, 1, ctypes.byref(cmp)), name)
    cmp = _ArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)
    number = lib.seccomp_syscall_resolve_name(b"shmat")
    _check(lib.seccomp_rule_add_array(mdwe, denied, number, 1, ctypes.byref(cmp)), "shmat")
    _check(lib.seccomp_load(mdwe), "seccomp_load(mdwe)")
    _check(lib.seccomp_load(allow), "seccomp_load(allow)")


def main(argv: list[str]) -> None:
    kill = "--kill" in argv[: argv.index("--")]
    command = argv[argv.index("--") + 1 :]
    install(kill=kill)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
