"""IBKR's request limits, enforced on the server's side of the fake.

Written from IBKR's documentation, not from our client's pacing (which it exists to check):
https://www.interactivebrokers.com/campus/ibkr-api-page/web-api-trading/#pacing-limitations

- "a global request rate limit of 50 requests per second for each authenticated username";
- a per-endpoint table (snapshot 10 req/s, ``/portfolio/accounts`` 1 req/5 secs, ...);
- "When a rate limit is exceeded, the Web API will return a 429 Too Many Requests status
  code. Violator IP addresses may be put in a penalty box for 10 minutes." Here the
  violator (one consumer: the fake serves one client machine) is boxed: every request it
  sends for the next 10 minutes is answered 429 too.

A limit "N per P seconds" is a sliding window over *arrival* times at the server: a request
is over the limit when N requests of its kind arrived in the P seconds before it (one that
arrives exactly P seconds after the N-th latest is allowed). ``period_scale`` multiplies
every period and the penalty box (a shorter day for tests; 1.0 is IBKR's).

The history endpoint's "5 concurrent requests" is not enforced here: the fake answers every
request synchronously, so it never has two in flight.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from skimd.clock import Clock

PENALTY_BOX_S = 600.0


@dataclass(frozen=True)
class DocumentedLimit:
    """``count`` requests per ``per_s`` seconds on ``path`` (``method`` None: any method;
    a ``path`` ending in "/" matches every path under it)."""

    path: str
    count: int
    per_s: float
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path


GLOBAL = DocumentedLimit("/", 50, 1.0)

# IBKR's "Per-Endpoint Request Rate Limits" table (the page above); the table's
# "/iserver/trades" and "/iserver/orders" are the /iserver/account/... endpoints.
DOCUMENTED: tuple[DocumentedLimit, ...] = (
    DocumentedLimit("/iserver/marketdata/snapshot", 10, 1.0, "GET"),
    DocumentedLimit("/iserver/scanner/params", 1, 900.0, "GET"),
    DocumentedLimit("/iserver/scanner/run", 1, 1.0, "POST"),
    DocumentedLimit("/iserver/account/trades", 1, 5.0, "GET"),
    DocumentedLimit("/iserver/account/orders", 1, 5.0, "GET"),
    DocumentedLimit("/iserver/account/pnl/partitioned", 1, 5.0, "GET"),
    DocumentedLimit("/portfolio/accounts", 1, 5.0, "GET"),
    DocumentedLimit("/portfolio/subaccounts", 1, 5.0, "GET"),
    DocumentedLimit("/pa/performance", 1, 900.0, "POST"),
    DocumentedLimit("/pa/summary", 1, 900.0, "POST"),
    DocumentedLimit("/pa/transactions", 1, 900.0, "POST"),
    DocumentedLimit("/fyi/", 1, 1.0),
    DocumentedLimit("/tickle", 1, 1.0),  # documented as GET; a POST is the same endpoint
    DocumentedLimit("/sso/validate", 1, 60.0, "GET"),
)


@dataclass
class Refusal:
    consumer: str
    method: str
    path: str
    at: float
    limit: DocumentedLimit | None  # None: refused because the consumer is in the box


@dataclass
class RateLimiter:
    """Counts arrivals per consumer and answers whether each request is admitted."""

    clock: Clock
    period_scale: float = 1.0
    limits: tuple[DocumentedLimit, ...] = DOCUMENTED
    global_limit: DocumentedLimit = GLOBAL
    refusals: list[Refusal] = field(default_factory=list)
    _arrivals: dict[tuple[str, DocumentedLimit], deque[float]] = field(default_factory=dict)
    _boxed_until: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        """How many 429s the limiter has answered."""
        return len(self.refusals)

    def boxed_until(self, consumer: str) -> float | None:
        until = self._boxed_until.get(consumer)
        return until if until is not None and until > self.clock.monotonic() else None

    def admit(self, consumer: str, method: str, path: str) -> bool:
        """Record the arrival of ``method path`` from ``consumer``; False means 429."""
        now = self.clock.monotonic()
        if self.boxed_until(consumer) is not None:
            self.refusals.append(Refusal(consumer, method, path, now, None))
            return False
        applicable = [self.global_limit, *(x for x in self.limits if x.matches(method, path))]
        for limit in applicable:
            window = self._arrivals.setdefault((consumer, limit), deque())
            period = limit.per_s * self.period_scale
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= limit.count:
                self.refusals.append(Refusal(consumer, method, path, now, limit))
                self._boxed_until[consumer] = now + PENALTY_BOX_S * self.period_scale
                return False
        for limit in applicable:
            self._arrivals[(consumer, limit)].append(now)
        return True
