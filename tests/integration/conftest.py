"""Shared by every integration test.

Commands run in-process configure logging to stderr as the CLI does; the structlog and
stdlib logging set-up is restored after every test, so no later test writes to a capture
stream pytest has closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
