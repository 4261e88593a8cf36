"""The environment for running skimd as a child process in tests."""

from __future__ import annotations

import os


def base_env() -> dict[str, str]:
    """This process's environment without skimd's own variables or systemd's (so a
    developer's shell or a test's setup cannot leak into the child)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SKIMD")
        and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY")
    }
