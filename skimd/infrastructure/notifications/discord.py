"""Discord webhook notifier.

The request body is built with ``discord-webhook`` (DiscordWebhook/DiscordEmbed →
``.json`` + files) and sent with the injected :class:`httpx.AsyncClient`, so tests talk to
a loopback server. Every wait here exists because of Discord (its buckets, a 429), so the
injected Clock is the App's *wall* clock: the real one even when the daemon's own clock is
simulated (the demo), so a simulated day never squeezes Discord's waits into a burst.
discord-webhook's own sending (``requests``, ``rate_limit_retry`` retrying 429 in an
unbounded loop) is never used.

Behaviour per response:

- 2xx: delivered. ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset-After`` make the next
  request wait for the bucket to refill first.
- 429: wait ``retry_after`` (JSON body, else ``Retry-After``/``X-RateLimit-Reset-After``)
  and retry, at most ``max_rate_limit_retries`` times and only when the wait is at most
  ``max_inline_wait_s``; otherwise raise :class:`NotifierRetryAfter` so the outbox sender
  backs off. Never an unbounded loop.
- 401/403/404: the webhook is disabled until restart (one error log); later sends raise
  :class:`NotifierDisabledError` without touching the network, so we never feed Discord's
  invalid-request ban. Alerts stay in the outbox.
- 400/413: the embed version is refused; one plain-text retry is made. If that is refused
  too, :class:`AlertRejectedError`. After ``max_bad_requests`` refusals in a row the
  webhook is disabled as well.
- 5xx, timeouts, connection errors: :class:`NotificationDeliveryError` (retry later).

Attachments: a chart PNG shown in the embed (``charts``) and the files that carry an
alert's data whatever ``charts`` says (the reconciliation digest's CSV), sent as one
multipart request with the embed (``payload_json`` + ``files[n]``, each part typed by its
extension). The plain-text fallback sends no files: its text holds the whole table.

The webhook URL is a secret: it is held as a SecretStr, never logged, never put in an
error message or repr, and library exceptions that could carry it are not chained.
"""

from __future__ import annotations

import hashlib
import json
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from pydantic import SecretStr

from skimd.clock import Clock
from skimd.domain.alerts import Alert, Severity
from skimd.errors import (
    AlertRejectedError,
    NotificationDeliveryError,
    NotifierDisabledError,
    NotifierRetryAfter,
)
from skimd.infrastructure.alert_codec import to_payload
from skimd.infrastructure.notifications.message_renderers import (
    InProcessRenderer,
    MessageRenderer,
)

if TYPE_CHECKING:
    from skimd.infrastructure.notifications.discord_messages import Composed

log = structlog.get_logger(__name__)

_DISABLING = {401, 403, 404}
_BAD_REQUEST = {400, 413}
_CONTENT_TYPES = {"png": "image/png", "csv": "text/csv; charset=utf-8"}


class DiscordNotifier:
    """Posts alerts (of ``min_severity`` or worse) to one Discord webhook; times in footers
    and chart axes read in ``tz`` (the market zone, from the settings)."""

    def __init__(
        self,
        url: SecretStr | str,
        *,
        http_client: httpx.AsyncClient,
        clock: Clock,
        tz: tzinfo,
        name: str = "discord",
        min_severity: Severity = Severity.INFO,
        username: str | None = "skimd",
        charts: bool = True,
        max_inline_wait_s: float = 5.0,
        max_rate_limit_retries: int = 3,
        max_bad_requests: int = 3,
        timeout_s: float = 10.0,
        renderer: MessageRenderer | None = None,
    ) -> None:
        secret = url if isinstance(url, SecretStr) else SecretStr(url)
        if not secret.get_secret_value().startswith(("https://", "http://")):
            raise ValueError(f"discord webhook {name}: URL must be http(s)")
        self._url = secret
        self._http = http_client
        self._clock = clock
        self._name = name
        self._min_severity = min_severity
        self._username = username
        self._tz = tz
        self._charts = charts
        self._max_inline_wait = max_inline_wait_s
        self._max_429 = max_rate_limit_retries
        self._max_bad = max_bad_requests
        self._timeout = timeout_s
        self._renderer = renderer or InProcessRenderer()
        self._blocked_until = 0.0
        self._bad_requests = 0
        self._disabled: str | None = None
        self._progress: dict[str, int] = {}  # alert digest -> messages already accepted

    def __repr__(self) -> str:
        state = f"disabled={self._disabled!r}" if self._disabled else "enabled"
        return f"DiscordNotifier(name={self._name!r}, url=**********, {state})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def disabled_reason(self) -> str | None:
        return self._disabled

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client belongs to bootstrap."""

    async def send(self, alert: Alert) -> None:
        if alert.severity.rank < self._min_severity.rank:
            return
        if self._disabled:
            raise NotifierDisabledError(
                f"discord webhook {self._name} is disabled ({self._disabled})"
            )
        messages = await self._messages(alert)
        key = _alert_key(alert)
        start = self._progress.get(key, 0)
        for index in range(start, len(messages)):
            try:
                await self._post(messages[index])
            except AlertRejectedError:
                await self._send_plain(alert)
                break
            if len(self._progress) > 100:  # forget stale partial sends; at-least-once anyway
                self._progress.clear()
            self._progress[key] = index + 1
        self._progress.pop(key, None)

    async def _messages(self, alert: Alert) -> list[Composed]:
        return await self._renderer.discord(
            alert, tz=self._tz, charts=self._charts, username=self._username, plain=False
        )

    async def _send_plain(self, alert: Alert) -> None:
        log.warning("discord refused the embed version; sending plain text",
                    notifier=self._name, alert_kind=alert.kind)
        plain = await self._renderer.discord(
            alert, tz=self._tz, charts=False, username=self._username, plain=True
        )
        for message in plain:
            await self._post(message)

    async def _post(self, message: Composed) -> None:
        """One request, with bounded waits for rate limits."""
        body, files = message
        for _ in range(self._max_429 + 1):
            if self._disabled:
                raise NotifierDisabledError(
                    f"discord webhook {self._name} is disabled ({self._disabled})"
                )
            await self._wait_for_bucket()
            response = await self._request(body, files)
            self._note_bucket(response)
            status = response.status_code
            if 200 <= status < 300:
                self._bad_requests = 0
                return
            if status == 429:
                retry_after = _retry_after(response)
                until = self._clock.monotonic() + retry_after
                self._blocked_until = max(self._blocked_until, until)
                log.warning("discord rate limited", notifier=self._name, retry_after_s=retry_after)
                continue
            if status in _DISABLING:
                self._disable(f"HTTP {status}")
                raise NotifierDisabledError(f"discord webhook {self._name} refused: HTTP {status}")
            if status in _BAD_REQUEST:
                self._bad_requests += 1
                detail = _error_detail(response)
                if self._bad_requests >= self._max_bad:
                    self._disable(f"{self._bad_requests} bad requests in a row")
                raise AlertRejectedError(f"discord webhook {self._name}: HTTP {status} {detail}")
            raise NotificationDeliveryError(f"discord webhook {self._name}: HTTP {status}")
        raise NotifierRetryAfter(
            f"discord webhook {self._name}: still rate limited",
            retry_after=max(0.0, self._blocked_until - self._clock.monotonic()),
        )

    async def _wait_for_bucket(self) -> None:
        wait = self._blocked_until - self._clock.monotonic()
        if wait <= 0:
            return
        if wait > self._max_inline_wait:
            raise NotifierRetryAfter(f"discord webhook {self._name}: rate limited", wait)
        await self._clock.sleep(wait)

    async def _request(
        self, body: dict[str, Any], files: list[tuple[str, bytes]]
    ) -> httpx.Response:
        url = self._url.get_secret_value()
        try:
            if files:
                return await self._http.post(
                    url,
                    data={"payload_json": json.dumps(body)},
                    files=[(f"files[{i}]", (n, d, _content_type(n)))
                           for i, (n, d) in enumerate(files)],
                    timeout=self._timeout,
                )
            return await self._http.post(url, json=body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            # Not chained: httpx exceptions carry the request, whose URL is the secret.
            raise NotificationDeliveryError(
                f"discord webhook {self._name}: {type(exc).__name__}"
            ) from None

    def _note_bucket(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset_after = _float(response.headers.get("X-RateLimit-Reset-After"))
        if remaining is not None and remaining.strip() == "0" and reset_after is not None:
            self._blocked_until = max(self._blocked_until, self._clock.monotonic() + reset_after)

    def _disable(self, reason: str) -> None:
        if self._disabled is None:
            self._disabled = reason
            log.error("discord webhook disabled until restart; alerts stay in the outbox",
                      notifier=self._name, reason=reason)


def _content_type(filename: str) -> str:
    """The part's type by extension (a fixed table: the host's mime database varies)."""
    _, dot, ext = filename.rpartition(".")
    return _CONTENT_TYPES.get(ext.lower() if dot else "", "application/octet-stream")


def _alert_key(alert: Alert) -> str:
    text = json.dumps(to_payload(alert), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait after a 429: body ``retry_after``, then the headers, else 1 s."""
    try:
        body = response.json()
        if isinstance(body, dict) and _float(str(body.get("retry_after"))) is not None:
            return max(0.0, float(body["retry_after"]))
    except ValueError:
        pass
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        value = _float(response.headers.get(header))
        if value is not None:
            return max(0.0, value)
    return 1.0


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return f"(code {body.get('code')}: {str(body.get('message', ''))[:120]})"
