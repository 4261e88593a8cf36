"""The environment for running skimd as a child process in tests."""

from __future__ import annotations

import os

from skimd.config import PROJECT_ROOT

UNIT = PROJECT_ROOT / "systemd" / "skimd.service"


def unit_python_env() -> dict[str, str]:
    """The interpreter settings the shipped unit gives the daemon (its ``Environment=PYTHON…``
    lines, e.g. ``PYTHONOPTIMIZE=2``), so every process test runs skimd the way systemd
    does: docstrings and asserts gone."""
    env: dict[str, str] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        key, _, value = raw.strip().partition("=")
        if key == "Environment" and value.startswith("PYTHON"):
            name, _, setting = value.partition("=")
            env[name] = setting
    return env


def base_env() -> dict[str, str]:
    """This process's environment without skimd's own variables or systemd's (so a
    developer's shell or a test's setup cannot leak into the child), plus the unit's
    interpreter settings (:func:`unit_python_env`)."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SKIMD")
            and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY")
        },
        **unit_python_env(),
    }
