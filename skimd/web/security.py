"""The web view's guards: who is logged in, CSRF tokens, login throttling, headers.

- Sessions: the signed cookie (Starlette's SessionMiddleware: HttpOnly, SameSite=Strict,
  Secure when served over TLS) carries a random session id; the ids live here, in memory,
  so logging out (or restarting ``skimd web``) ends a session even if its cookie was
  copied. Each id expires ``max_age`` after login.
- CSRF: a random token per session, put in every form; a POST without the session's
  token is refused (403) before anything else happens (login included).
- Login throttling: after :data:`MAX_FAILURES` failed logins within :data:`WINDOW`,
  further attempts are refused until the window has passed (Argon2id makes each guess
  cost ~0.1 s already).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from skimd.clock import Clock

CSRF_FIELD = "csrf_token"
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)

# Sent with every response: no framing, no foreign scripts or styles, no caching of pages
# that show positions, no referrer leaving the desk.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Sessions:
    """Live session ids and when each was opened."""

    def __init__(self, clock: Clock, max_age: timedelta) -> None:
        self._clock = clock
        self._max_age = max_age
        self._opened: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._opened[sid] = self._clock.now()
        return sid

    def is_live(self, sid: Any) -> bool:
        if not isinstance(sid, str):
            return False
        with self._lock:
            opened = self._opened.get(sid)
            if opened is None:
                return False
            if self._clock.now() - opened > self._max_age:
                del self._opened[sid]
                return False
            return True

    def close(self, sid: Any) -> None:
        with self._lock:
            self._opened.pop(sid, None) if isinstance(sid, str) else None


class LoginThrottle:
    """Counts failed logins in a sliding window (one trader: one counter)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._failures: deque[datetime] = deque()
        self._lock = threading.Lock()

    def allowed(self) -> bool:
        with self._lock:
            self._forget_old()
            return len(self._failures) < MAX_FAILURES

    def failed(self) -> None:
        with self._lock:
            self._failures.append(self._clock.now())

    def succeeded(self) -> None:
        with self._lock:
            self._failures.clear()

    def _forget_old(self) -> None:
        limit = self._clock.now() - WINDOW
        while self._failures and self._failures[0] < limit:
            self._failures.popleft()


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: dict[str, Any], sent: Any) -> bool:
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str):
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())
