"""Structured logging, configured once by bootstrap.

JSON lines when stderr is not a TTY (journald keeps them whole), a readable console
renderer on a TTY. Every event passes through :class:`SecretRedactor` before rendering:
known secret values are replaced wherever they appear (even inside longer strings and
nested containers), values under secret-sounding keys are masked, and Discord webhook
URLs are masked by shape. Context (job, ticker, order) is bound with structlog's
contextvars helpers: ``bind_contextvars(job="gap_scan")``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

MASK = "**********"
_SECRET_KEY = re.compile(
    r"(passphrase|password|secret|token|api_key|apikey|private_key|webhook|authorization"
    r"|consumer_key|credential|dh_prime|signature)",
    re.IGNORECASE,
)
_WEBHOOK_URL = re.compile(r"https?://[^\s\"']*discord(?:app)?\.com/api/webhooks/[^\s\"']+")
_MIN_SECRET_LEN = 4


class SecretRedactor:
    """A structlog processor that scrubs secrets from the whole event dict.

    ``known`` are literal secret values (from Settings); ``add`` registers more at run time
    (the broker's live session token, for instance). Short values are ignored so that a
    one-character secret cannot blank out every log line.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in known:
            self.add(value)

    def add(self, value: str) -> None:
        if value and len(value) >= _MIN_SECRET_LEN and value not in self._secrets:
            self._secrets.add(value)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def absorb(self, other: SecretRedactor) -> None:
        """Know ``other``'s secrets too. One redactor over all secrets, not two in a row:
        the longest match wins, so a secret that is a prefix of another cannot mask part of
        the longer one and leave its tail readable."""
        for value in other._secrets:
            self.add(value)

    def scrub(self, value: Any, key: str | None = None) -> Any:
        if key is not None and _SECRET_KEY.search(key) and value not in (None, "", False):
            return MASK
        if isinstance(value, str):
            return self._scrub_text(value)
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException):
            return self._scrub_text(f"{type(value).__name__}: {value}")
        return value

    def _scrub_text(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _WEBHOOK_URL.sub("https://discord.com/api/webhooks/" + MASK, text)

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self.scrub(event_dict[key], None if key == "event" else key)
        return event_dict


def configure_logging(
    level: str,
    fmt: str,
    redactor: SecretRedactor,
    stream: TextIO | None = None,
) -> None:
    """Set up structlog (and route stdlib logging, e.g. APScheduler's, through it)."""
    out = stream if stream is not None else sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(level, out, shared, renderer)


def _route_stdlib(level: str, out: TextIO, shared: list[Any], renderer: Any) -> None:
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared[:-1], structlog.stdlib.ExtraAdder(), shared[-1]],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every submission at INFO; our listeners report what matters.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
