"""The shipped unit, read the plain way (``key=value`` lines of one section), so tests can
compare what other deploy files derive from it."""

from __future__ import annotations

import shutil
from pathlib import Path

from skimd.config import PROJECT_ROOT

UNIT = PROJECT_ROOT / "systemd" / "skimd.service"
ADMIN = PROJECT_ROOT / "systemd" / "skimd-admin"
NO_SYSTEMD = "systemd-analyze is not installed (.ci/run installs the systemd package on CI)"


def analyze_tool() -> str | None:
    return shutil.which("systemd-analyze")


def assignments(unit: Path = UNIT, section: str = "Service") -> list[tuple[str, str]]:
    """Every ``key=value`` line of ``[section]`` in file order (comments skipped)."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in unit.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section:
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


def values(key: str, unit: Path = UNIT) -> list[str]:
    return [value for k, value in assignments(unit) if k == key]
