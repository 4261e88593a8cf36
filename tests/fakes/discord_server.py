"""A loopback fake of Discord's execute-webhook endpoint, as strict as the real one.

A real HTTP server on 127.0.0.1 (own thread). ``POST /api/webhooks/<id>/<token>``:

- unknown id/token → 404 ``Unknown Webhook`` (code 10015);
- bodies breaking any documented limit → 400 ``Invalid Form Body`` (code 50035), with the
  broken rule recorded in :attr:`FakeDiscord.violations`;
- :meth:`script` queues canned responses (e.g. 429 with ``retry_after``, 500) consumed by
  the next requests; :attr:`down` answers every request 503 while true;
- optional real-time bucket (``bucket=(size, per_seconds)``) answering
  ``X-RateLimit-Remaining``/``X-RateLimit-Reset-After`` and 429 when exhausted.

Every request is recorded whole (:class:`Recorded`), multipart bodies parsed into the
``payload_json`` object and the file parts with their filenames and bytes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {
    "content": 2000,
    "embeds": 10,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field_name": 256,
    "field_value": 1024,
    "footer": 2048,
    "author": 256,
    "total": 6000,
}


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any] | None
    files: list[UploadedFile]
    status: int
    at: float = field(default_factory=time.monotonic)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list((self.payload or {}).get("embeds", []))


@dataclass
class Canned:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def check_limits(payload: dict[str, Any], files: list[UploadedFile]) -> list[str]:
    """Every rule the payload breaks (empty when Discord would accept it)."""
    problems = []
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if len(content) > LIMITS["content"]:
        problems.append(f"content {len(content)} > 2000")
    if len(embeds) > LIMITS["embeds"]:
        problems.append(f"{len(embeds)} embeds > 10")
    if not content and not embeds and not files:
        problems.append("empty message")
    total = 0
    names = {f.filename for f in files}
    for i, e in enumerate(embeds):
        title = e.get("title") or ""
        desc = e.get("description") or ""
        footer = (e.get("footer") or {}).get("text") or ""
        author = (e.get("author") or {}).get("name") or ""
        fields = e.get("fields") or []
        for key, text in (("title", title), ("description", desc), ("footer", footer),
                          ("author", author)):
            if len(text) > LIMITS[key]:
                problems.append(f"embed {i} {key} {len(text)} > {LIMITS[key]}")
        if len(fields) > LIMITS["fields"]:
            problems.append(f"embed {i} has {len(fields)} fields > 25")
        for j, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            if not name.strip() or not value.strip():
                problems.append(f"embed {i} field {j} empty name or value")
            if len(name) > LIMITS["field_name"]:
                problems.append(f"embed {i} field {j} name {len(name)} > 256")
            if len(value) > LIMITS["field_value"]:
                problems.append(f"embed {i} field {j} value {len(value)} > 1024")
            total += len(name) + len(value)
        total += len(title) + len(desc) + len(footer) + len(author)
        image = (e.get("image") or {}).get("url") or ""
        if image.startswith("attachment://") and image[len("attachment://"):] not in names:
            problems.append(f"embed {i} image {image} not attached")
    if total > LIMITS["total"]:
        problems.append(f"embeds total {total} > 6000")
    return problems


class FakeDiscord:
    """Start with ``with FakeDiscord() as discord:``; ``discord.url`` is a valid webhook."""

    def __init__(self, bucket: tuple[int, float] | None = None) -> None:
        self.webhook_id = "123456789"
        self.token = "s3cr3t-t0ken-abcdef"
        self.valid: set[tuple[str, str]] = {(self.webhook_id, self.token)}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.down = False
        self._script: deque[Canned] = deque()
        self._lock = threading.Lock()
        self._bucket = bucket
        self._bucket_left = bucket[0] if bucket else 0
        self._bucket_reset = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeDiscord:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.url_for(self.webhook_id, self.token)

    def url_for(self, webhook_id: str, token: str) -> str:
        return f"{self.base}/api/webhooks/{webhook_id}/{token}"

    def add_webhook(self, webhook_id: str, token: str) -> str:
        self.valid.add((webhook_id, token))
        return self.url_for(webhook_id, token)

    def revoke(self) -> None:
        self.valid.discard((self.webhook_id, self.token))

    def script(self, *responses: Canned) -> None:
        with self._lock:
            self._script.extend(responses)

    # -- views ---------------------------------------------------------------------------------

    def accepted(self, webhook_id: str | None = None) -> list[Recorded]:
        wid = webhook_id or self.webhook_id
        return [
            r for r in self.requests
            if 200 <= r.status < 300 and r.path.startswith(f"/api/webhooks/{wid}/")
        ]

    # -- handling ------------------------------------------------------------------------------

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any] | None, dict[str, str], Recorded]:  # noqa: E501
        payload: dict[str, Any] | None = None
        files: list[UploadedFile] = []
        problems: list[str] = []
        try:
            payload, files = _parse(headers.get("content-type", ""), body)
        except ValueError as exc:
            problems.append(f"unparseable body: {exc}")
        with self._lock:
            canned = self._script.popleft() if self._script else None
        status, reply, extra = 204, None, {}
        parts = path.split("?")[0].strip("/").split("/")
        if canned is not None:
            status, reply, extra = canned.status, canned.body, dict(canned.headers)
        elif self.down:
            status, reply = 503, {"message": "Service Unavailable"}
        elif len(parts) != 4 or (parts[2], parts[3]) not in self.valid:
            status, reply = 404, {"message": "Unknown Webhook", "code": 10015}
        else:
            if payload is not None:
                problems.extend(check_limits(payload, files))
            if problems:
                self.violations.extend(problems)
                status, reply = 400, {"message": "Invalid Form Body", "code": 50035,
                                      "errors": problems}
            else:
                status, reply, extra = self._bucket_take()
        rec = Recorded(path, headers, body, payload, files, status)
        self.requests.append(rec)
        return status, reply, extra, rec

    def _bucket_take(self) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if self._bucket is None:
            return 204, None, {}
        size, per = self._bucket
        now = time.monotonic()
        with self._lock:
            if now >= self._bucket_reset:
                self._bucket_left, self._bucket_reset = size, now + per
            reset_after = max(0.0, self._bucket_reset - now)
            if self._bucket_left <= 0:
                return 429, {"message": "You are being rate limited.", "retry_after": reset_after,
                             "global": False}, {"Retry-After": f"{reset_after:.3f}"}
            self._bucket_left -= 1
            return 204, None, {
                "X-RateLimit-Limit": str(size),
                "X-RateLimit-Remaining": str(self._bucket_left),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply, extra, _ = fake._respond(self.path, headers, body)
                data = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _parse(content_type: str, body: bytes) -> tuple[dict[str, Any] | None, list[UploadedFile]]:
    if content_type.startswith("application/json"):
        return json.loads(body), []
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        payload = None
        files = []
        for part in message.iter_parts():
            disposition = part.get("Content-Disposition", "")
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            raw = part.get_payload(decode=True)
            data = raw if isinstance(raw, bytes) else b""
            if name == "payload_json":
                payload = json.loads(data)
            elif filename:
                files.append(UploadedFile(str(name), filename, part.get_content_type(), data))
            elif disposition:
                raise ValueError(f"unexpected form part {name!r}")
        return payload, files
    if not body:
        return None, []
    raise ValueError(f"unsupported content type {content_type!r}")
