"""IBKR's websocket ``/v1/api/ws`` for the fake IBKR, served on the same loopback port as its
REST API (:func:`~tests.fakes.ibkr_server.serve_loopback` hands an upgrade request here).

The framing is the ``websockets`` library's (its Sans-I/O :class:`ServerProtocol`); this
module plays IBKR's side of the conversation, as IBKR documents it ("Websockets" in
https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/ and
https://interactivebrokers.github.io/cpwebapi/RealtimeSubscription.html):

- **Login.** The handshake must carry ``?oauth_token=<the consumer's access token>`` while a
  live session token exists (otherwise HTTP 401). The cookie ``api=<session>`` (the
  ``session`` of ``POST /tickle``) authorises the socket at once; without it (or with a stale
  one) the socket answers ``{"message": "waiting for session"}`` until the client sends
  ``{"session": "<session>"}``.
- **Greeting.** ``{"topic": "system", "success": <user>, ...}``, then ``sts`` with the
  brokerage session's state; a heartbeat ``{"topic": "system", "hb": <ms>}`` every
  :attr:`FakeIbkrWs.heartbeat_s` of the fake's clock.
- **Market data.** ``smd+CONID+{"fields": [...]}`` subscribes (the first message carries
  every requested field, later ones only the fields that changed: :meth:`FakeIbkrWs.publish`),
  ``umd+CONID+{}`` unsubscribes. At most :attr:`FakeIbkrWs.line_limit` conids per username
  across its sockets (IBKR's default market-data lines: 100); one more is answered with an
  ``error`` on its topic (the wording is the fake's own: IBKR's is not documented).
  Subscriptions are honoured only on an authorised socket while the brokerage session is up.
- **Session.** ``tic`` is answered on topic ``tic``. The brokerage session dropping (nightly
  reset, another login) is pushed as ``sts`` ``authenticated: false`` and ends the socket's
  subscriptions; a new live session token means a new ``/tickle`` session, and the old
  sockets are closed (the fake's choice: IBKR does not say what happens to them).

Fault controls: :meth:`FakeIbkrWs.drop` (the network drops every socket; new handshakes
answer 503 for a while, or until :meth:`FakeIbkrWs.restore`), :meth:`FakeIbkrWs.silence`
(sockets stay open but nothing more arrives: no heartbeat, no data),
:attr:`FakeIbkrWs.mute_new` (new sockets open, then never greet), :meth:`FakeIbkrWs.batch`
(the pushes inside go out in one TCP write, as a burst of ticks would). For waiting without
sleeping: :attr:`WsSocket.written` counts the messages sent on a socket, and
:attr:`FakeIbkrWs.activity` is set whenever the fake serves anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from skimd.clock import Clock

WS_PATH = "/v1/api/ws"
USERNAME = "testuser1"


class WsHost(Protocol):
    """What the websocket needs of :class:`~tests.fakes.ibkr_server.FakeIbkr`."""

    clock: Clock
    lst: str | None
    authenticated: bool
    competing: bool

    def access_token(self) -> str: ...

    def quote_fields(self, conid: int) -> dict[str, str]: ...


@dataclass
class WsSocket:
    """One client socket as the fake sees it."""

    protocol: ServerProtocol
    writer: asyncio.StreamWriter
    authorised: bool = False
    silent: bool = False
    fields: dict[int, list[str]] = field(default_factory=dict)  # conid → requested tags
    sent: dict[int, dict[str, str]] = field(default_factory=dict)  # conid → values sent
    held: bytearray | None = None  # inside batch(): bytes not yet written
    written: int = 0  # messages sent to this socket (a test waits until the client read them)


class FakeIbkrWs:
    """The fake's websocket side. All times come from the host's clock."""

    def __init__(self, host: WsHost) -> None:
        self.host = host
        self.heartbeat_s = 10.0
        self.line_limit = 100
        self.session_id = secrets.token_hex(16)
        self.sockets: list[WsSocket] = []
        self.received: list[str] = []  # every text frame a client sent, in order
        self.handshakes: list[int] = []  # the HTTP status of every handshake answered
        self.refuse_until = -1.0  # monotonic; handshakes before it answer 503
        self._batching = 0
        # False: the cookie is not read, every socket asks "waiting for session" (IBKR's
        # other documented way in)
        self.accept_cookie = True
        self.mute_new = False  # True: new sockets open and then say nothing at all
        # set whenever the fake serves anything (REST call, socket opened/closed/sent to)
        self.activity = asyncio.Event()

    # -- fault and market controls ---------------------------------------------------------

    def drop(self, refuse_s: float = 0.0) -> None:
        """Every socket is cut without a close frame; for ``refuse_s`` of the clock new
        handshakes answer 503 (``math.inf``: until :meth:`restore`)."""
        self.refuse_until = self.host.clock.monotonic() + refuse_s
        for sock in list(self.sockets):
            sock.writer.transport.abort()

    def restore(self) -> None:
        """New handshakes are accepted again (the network is back)."""
        self.refuse_until = -1.0

    @property
    def accepting(self) -> bool:
        """Whether a handshake now would be accepted as far as the network goes (the login
        is still checked)."""
        return self.host.clock.monotonic() >= self.refuse_until

    def silence(self) -> None:
        """The open sockets stay open but deliver nothing more (a half-dead connection)."""
        for sock in self.sockets:
            sock.silent = True

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Pushes inside go out together, in one write per socket (nested: the outermost
        writes)."""
        self._batching += 1
        if self._batching == 1:
            for sock in self.sockets:
                sock.held = bytearray()
        try:
            yield
        finally:
            self._batching -= 1
            if self._batching == 0:
                for sock in self.sockets:
                    held, sock.held = sock.held, None
                    if held:
                        sock.writer.write(bytes(held))

    def subscribed(self) -> set[int]:
        """Conids subscribed on any open socket (the lines in use)."""
        return {c for sock in self.sockets for c in sock.fields}

    def publish(self, conid: int) -> int:
        """Push ``conid``'s changed fields to every socket subscribed to it; how many
        messages went out."""
        count = 0
        for sock in self.sockets:
            if conid in sock.fields and sock.authorised and not sock.silent:
                count += self._push(sock, conid)
        return count

    # -- the host's session events -----------------------------------------------------------

    def new_login(self) -> None:
        """A new live session token: a new ``/tickle`` session; old sockets are closed."""
        self.session_id = secrets.token_hex(16)
        for sock in list(self.sockets):
            sock.protocol.send_close(1000, "session ended")
            self._flush(sock)

    def bridge_changed(self) -> None:
        """The brokerage session went down or came up: ``sts`` to every authorised socket;
        a socket whose bridge went down loses its subscriptions."""
        for sock in self.sockets:
            if not sock.authorised:
                continue
            if not self.host.authenticated:
                sock.fields.clear()
                sock.sent.clear()
            self._send(sock, self._status())

    # -- serving -----------------------------------------------------------------------------

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        """Take over a connection whose HTTP request ``head`` asked for the websocket."""
        protocol = ServerProtocol(max_size=2**20)
        protocol.receive_data(head)
        events = protocol.events_received()
        if not events or not isinstance(events[0], Request):
            writer.close()
            return
        request = events[0]
        refused = self._refusal(request)
        response = (protocol.reject(refused, refused.phrase) if refused
                    else protocol.accept(request))
        protocol.send_response(response)
        self.handshakes.append(response.status_code)
        self.activity.set()
        sock = WsSocket(protocol, writer, silent=self.mute_new)
        self._flush(sock)
        if protocol.state is not State.OPEN:
            writer.close()
            return
        self.sockets.append(sock)
        if sock.silent:
            pass
        elif self.accept_cookie and _cookie_session(request) == self.session_id:
            self._authorise(sock)
        else:
            self._send(sock, {"message": "waiting for session"})
        beats = asyncio.get_running_loop().create_task(self._heartbeats(sock))
        try:
            while protocol.state is not State.CLOSED:
                try:
                    data = await reader.read(65536)
                except ConnectionError:
                    break
                if data:
                    protocol.receive_data(data)
                else:
                    protocol.receive_eof()
                for event in protocol.events_received():
                    if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                        self._on_text(sock, event.data.decode())
                self._flush(sock)
                if not data:
                    break
        finally:
            beats.cancel()
            if sock in self.sockets:
                self.sockets.remove(sock)
            writer.close()
            self.activity.set()

    def _refusal(self, request: Request) -> HTTPStatus | None:
        url = urlsplit(request.path)
        token = parse_qs(url.query).get("oauth_token", [""])[0]
        if url.path != WS_PATH:
            return HTTPStatus.NOT_FOUND
        if self.host.clock.monotonic() < self.refuse_until:
            return HTTPStatus.SERVICE_UNAVAILABLE
        if self.host.lst is None or token != self.host.access_token():
            return HTTPStatus.UNAUTHORIZED
        return None

    def _authorise(self, sock: WsSocket) -> None:
        sock.authorised = True
        self._send(sock, {"topic": "system", "success": USERNAME, "isFT": False,
                          "isPaper": True})
        self._send(sock, self._status())

    def _status(self) -> dict[str, Any]:
        up = self.host.authenticated
        return {"topic": "sts", "args": {
            "authenticated": up, "competing": self.host.competing, "connected": True,
            "established": up, "message": "", "fail": "", "serverName": "fake",
            "serverVersion": "Build fake"}}

    async def _heartbeats(self, sock: WsSocket) -> None:
        while True:
            await self.host.clock.sleep(self.heartbeat_s)
            if not sock.silent:
                self._send(sock, {"topic": "system", "hb": self._now_ms()})

    def _on_text(self, sock: WsSocket, text: str) -> None:
        self.received.append(text)
        self.activity.set()
        if sock.silent:
            return
        if text.startswith("{"):
            self._on_session(sock, text)
        elif text == "tic":
            self._send(sock, {"topic": "tic", "alive": True, "id": self.session_id[:8],
                              "lastAccessed": self._now_ms()})
        elif text.startswith(("smd+", "umd+")):
            self._on_market_data(sock, text)
        elif text != "ech+hb":
            self._send(sock, {"error": f"Topic unknown {text[:20]}", "code": 1})

    def _on_session(self, sock: WsSocket, text: str) -> None:
        try:
            session = json.loads(text).get("session")
        except (ValueError, AttributeError):
            session = None
        if session == self.session_id and not sock.authorised:
            self._authorise(sock)
        elif not sock.authorised:
            self._send(sock, {"message": "waiting for session"})

    def _on_market_data(self, sock: WsSocket, text: str) -> None:
        topic, _, rest = text.partition("+")
        conid_text, _, args = rest.partition("+")
        try:
            conid = int(conid_text.split("@")[0])
            body = json.loads(args or "{}")
        except ValueError:
            self._send(sock, {"error": "malformed request", "code": 1})
            return
        if topic == "umd":
            sock.fields.pop(conid, None)
            sock.sent.pop(conid, None)
            return
        if not sock.authorised or not self.host.authenticated:
            return  # not honoured without a session (no answer at all)
        if conid not in self.subscribed() and len(self.subscribed()) >= self.line_limit:
            self._send(sock, {"topic": f"smd+{conid}",
                              "error": "Exceeded market data lines limit"})
            return
        wanted = [str(f) for f in (body.get("fields") or []) if isinstance(body, dict)]
        known = sock.fields.setdefault(conid, [])
        known.extend(f for f in wanted if f not in known)
        sock.sent.pop(conid, None)  # the first message after a subscribe is complete
        self._push(sock, conid)

    def _push(self, sock: WsSocket, conid: int) -> int:
        values = self.host.quote_fields(conid)
        wanted = {f: values[f] for f in sock.fields.get(conid, []) if f in values}
        before = sock.sent.setdefault(conid, {})
        delta = {k: v for k, v in wanted.items() if before.get(k) != v}
        if not delta:
            return 0
        before.update(delta)
        self._send(sock, {"server_id": "q0", "conid": conid, "conidEx": str(conid),
                          "_updated": self._now_ms(), "6119": "q0", **delta,
                          "topic": f"smd+{conid}"})
        return 1

    # -- bytes ----------------------------------------------------------------------------------

    def _send(self, sock: WsSocket, body: dict[str, Any]) -> None:
        if sock.protocol.state is not State.OPEN:
            return
        sock.protocol.send_text(json.dumps(body).encode())
        sock.written += 1
        self._flush(sock)

    @staticmethod
    def _flush(sock: WsSocket) -> None:
        for chunk in sock.protocol.data_to_send():
            if not chunk:  # the protocol's end of stream
                sock.writer.close()
            elif sock.held is not None:
                sock.held += chunk
            elif not sock.writer.is_closing():
                sock.writer.write(chunk)

    def _now_ms(self) -> int:
        return int(self.host.clock.now().timestamp() * 1000)


def _cookie_session(request: Request) -> str | None:
    for header in request.headers.get_all("Cookie"):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "api":
                return value
    return None


__all__ = ["WS_PATH", "FakeIbkrWs", "WsHost", "WsSocket"]
