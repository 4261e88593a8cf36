"""systemd/skimd-web.service, checked like the daemon's unit: ``verify`` clean, at most
2.5 in offline ``security``, the same user and hardening as skimd.service, and nothing the
web view does not need (it leaves /run/skim to the daemon's unit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skimd.config import PROJECT_ROOT, SECRETS
from tests.integration.deploy.test_systemd_unit import (
    HOST_UNITS,
    MAX_EXPOSURE,
    exposure,
    verify_messages,
)
from tests.integration.deploy.unit_file import NO_SYSTEMD, UNIT, analyze_tool, values

WEB_UNIT = PROJECT_ROOT / "systemd" / "skimd-web.service"
needs_systemd = pytest.mark.skipif(analyze_tool() is None, reason=NO_SYSTEMD)
SHARED_HARDENING = (
    "User", "Group", "WorkingDirectory", "Environment", "ProtectSystem", "ProtectHome",
    "PrivateTmp", "PrivateDevices", "NoNewPrivileges", "CapabilityBoundingSet",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "ProtectProc",
    "ProcSubset", "RestrictNamespaces", "MemoryDenyWriteExecute", "SystemCallFilter",
    "SystemCallErrorNumber", "RestrictAddressFamilies", "UMask",
)


@needs_systemd
def test_the_web_unit_verifies_without_a_message(tmp_path: Path) -> None:
    assert HOST_UNITS.is_dir(), "systemd-analyze without the host's unit files"
    assert verify_messages(WEB_UNIT, tmp_path) == (0, "")


@needs_systemd
def test_the_web_unit_rates_at_most_2_5_in_offline_security() -> None:
    code, level, report = exposure(WEB_UNIT)
    assert level <= MAX_EXPOSURE, report
    assert code == 0, report


def test_the_web_unit_runs_skimd_web_as_the_daemons_user_with_its_hardening() -> None:
    (exec_start,) = values("ExecStart", WEB_UNIT)
    assert exec_start.split()[1:] == ["web"]
    assert values("RestartPreventExitStatus", WEB_UNIT) == ["78"]
    for key in SHARED_HARDENING:
        assert values(key, WEB_UNIT) == values(key, UNIT), key


def test_the_web_unit_leaves_the_runtime_dir_to_the_daemon_and_stays_on_loopback() -> None:
    # two units owning RuntimeDirectory=skim: stopping the web view would delete the socket
    assert values("RuntimeDirectory", WEB_UNIT) == []
    assert values("ReadWritePaths", WEB_UNIT) == ["/opt/skim/data"]
    assert values("IPAddressDeny", WEB_UNIT) == ["any"]
    assert values("IPAddressAllow", WEB_UNIT) == ["localhost"]


def test_the_web_unit_loads_the_database_key_and_the_session_secret_only() -> None:
    loaded = {v.split(":", 1)[0] for v in values("LoadCredentialEncrypted", WEB_UNIT)}
    wanted = {s.credential for s in SECRETS if s.section in ("database", "web")}
    assert loaded == wanted == {"skimd-db-passphrase", "skimd-web-session-secret"}
