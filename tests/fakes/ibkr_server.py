"""A fake IBKR Client Portal Web API, for tests and the pacing benchmark.

It plays IBKR's side of OAuth 1.0a on its own (the DH/LST math is re-implemented here, not
imported from the client, so a test comparing both sides proves something): it holds the
*public* halves of the consumer's RSA keys, verifies the RSA-SHA256 signature of the live
session token request and the HMAC-SHA256 signature of every later request, and answers
401 to anything it cannot verify.

Use it as an ``httpx.MockTransport`` (:meth:`FakeIbkr.transport`) or over real loopback HTTP
(:func:`serve_loopback`). Knobs: :meth:`FakeIbkr.fail` (forced statuses such as 429/401/500),
:attr:`FakeIbkr.questions` (confirmation questions asked on every order),
:attr:`FakeIbkr.timeout_after_accept` / :attr:`FakeIbkr.timeout_before_accept` (an order
POST that times out after / before IBKR recorded it), :meth:`FakeIbkr.take_session`
(another login), :meth:`FakeIbkr.nightly_reset`, :meth:`FakeIbkr.expire_lst`,
:attr:`FakeIbkr.ws` (the websocket ``/ws``, loopback only, with its own fault controls:
:mod:`tests.fakes.ibkr_ws`),
:attr:`FakeIbkr.limiter` (IBKR's documented request limits and 429 penalty box, on by
default; :mod:`tests.fakes.ibkr_limits`; None turns it off).

The brokerage session (the "bridge" to ``/iserver``) follows IBKR's documented lifecycle, see
:mod:`tests.fakes.ibkr_bridge`: every new live session token after the first drops it, and so
does the nightly reset; while it is down ``/iserver/*`` answers ``400 {"error": "Bad Request:
no bridge"}`` and ``/tickle`` / ``/iserver/auth/status`` say ``authenticated: false`` until
``POST /iserver/auth/ssodh/init`` brings it back (knobs: :attr:`FakeIbkr.init_settle_s`,
:meth:`FakeIbkr.take_session` with ``sticky``, :meth:`FakeIbkr.drop_bridge`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import stat
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from skimd.clock import Clock, SimulatedClock
from skimd.config import IbkrSettings
from tests.fakes.ibkr_bridge import NO_BRIDGE, Bridge
from tests.fakes.ibkr_limits import RateLimiter
from tests.fakes.ibkr_ws import FakeIbkrWs

# RFC 3526 group 14: a realistic 2048-bit MODP prime (IBKR issues primes of this size).
RFC3526_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
MERSENNE_127 = 2**127 - 1  # a small prime for fast tests of the arithmetic

SYDNEY = ZoneInfo("Australia/Sydney")
BASE_PATH = "/v1/api"
SNAPSHOT_PATH = "/iserver/marketdata/snapshot"


# -- keys the consumer registers with IBKR ------------------------------------------------


@dataclass
class FakeIbkrKeys:
    """A consumer's OAuth material. The client gets the private keys (as PEM files) and the
    encrypted secret; the fake keeps the public keys and the plaintext secret."""

    consumer_key: str
    access_token: str
    secret: bytes
    access_token_secret_b64: str
    signature_key: rsa.RSAPrivateKey
    encryption_key: rsa.RSAPrivateKey
    dh_prime: int

    @classmethod
    def generate(cls, dh_prime: int = RFC3526_2048, key_size: int = 2048) -> FakeIbkrKeys:
        signature_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        encryption_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        secret = secrets.token_bytes(32)
        encrypted = encryption_key.public_key().encrypt(secret, padding.PKCS1v15())
        return cls(
            consumer_key="TESTCONS1",
            access_token=secrets.token_hex(10),
            secret=secret,
            access_token_secret_b64=base64.b64encode(encrypted).decode(),
            signature_key=signature_key,
            encryption_key=encryption_key,
            dh_prime=dh_prime,
        )

    def write_keys(self, directory: Path) -> tuple[Path, Path]:
        """The two private keys as 0600 PEM files: (signature, encryption)."""
        paths = []
        for name, key in (("signature", self.signature_key), ("encryption", self.encryption_key)):
            path = directory / f"ibkr-{name}.pem"
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(stat.S_IRUSR | stat.S_IWUSR)
            paths.append(path)
        return paths[0], paths[1]

    def settings(self, directory: Path, base_url: str, **overrides: Any) -> IbkrSettings:
        signature, encryption = self.write_keys(directory)
        values: dict[str, Any] = {
            "base_url": base_url,
            "account_id": "DU1234567",
            "consumer_key": SecretStr(self.consumer_key),
            "access_token": SecretStr(self.access_token),
            "access_token_secret": SecretStr(self.access_token_secret_b64),
            "signature_key_file": signature,
            "encryption_key_file": encryption,
            "dh_prime": SecretStr(format(self.dh_prime, "x")),
        }
        values.update(overrides)
        return IbkrSettings(**values)


# -- market and order state -------------------------------------------------------------------


@dataclass
class FakeInstrument:
    symbol: str
    conid: int
    name: str
    prev_close: Decimal
    open: Decimal | None = None
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: int = 0
    closed: bool = False  # prices carry IBKR's "C" (closing) prefix


@dataclass
class FakeAccount:
    account_id: str
    paper: bool = True
    cash: Decimal = Decimal("100000")


@dataclass
class FakeOrder:
    order_id: str
    coid: str
    account: str
    conid: int
    symbol: str
    side: str
    qty: int
    order_type: str
    price: Decimal | None
    tif: str
    status: str = "Submitted"
    filled: int = 0
    avg_price: Decimal | None = None


@dataclass
class FakeExecution:
    execution_id: str
    order: FakeOrder
    qty: int
    price: Decimal
    commission: Decimal
    at: datetime


@dataclass
class Call:
    method: str
    path: str
    at: float
    query: dict[str, str]
    body: Any


@dataclass
class _PendingOrder:
    order: dict[str, Any]
    account: str
    questions: deque[tuple[str, str]]


@dataclass
class _Forced:
    prefix: str
    status: int
    times: int


class FakeTimeout(Exception):
    """Raised by the handler to make the transport time out (MockTransport mode)."""


class FakeIbkr:
    """IBKR's behaviour, in memory. All times come from ``clock``."""

    def __init__(
        self,
        keys: FakeIbkrKeys,
        *,
        clock: Clock,
        accounts: list[FakeAccount] | None = None,
        lst_lifetime_s: float = 24 * 3600,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.accounts = accounts or [FakeAccount("DU1234567", paper=True)]
        self.lst_lifetime_s = lst_lifetime_s
        # OAuth
        self.lst: str | None = None
        self.lst_expires_ms = 0
        self.lst_requests = 0
        self.last_dh_challenge: int | None = None
        self._nonces: set[str] = set()
        # brokerage session (tests.fakes.ibkr_bridge)
        self.authenticated = False
        self.competing = False
        self.other_login_holds = False  # ssodh/init cannot win the session back
        self.init_calls = 0
        self.accounts_queried = False
        self.bridge = Bridge(clock)
        self.init_settle_s = 0.0  # ssodh/init answers unauthenticated; up this much later
        self.lst_issued = 0
        # market
        self.instruments: dict[int, FakeInstrument] = {}
        self.subscribed: set[int] = set()
        self.bars: dict[int, list[dict[str, Any]]] = {}
        self.intraday: dict[int, list[dict[str, Any]]] = {}  # conid -> rows (see minute_bar)
        # IBKR documents startTime both as the window's end (period reaching back) and its
        # start (period reaching forward); True plays the second reading
        self.history_start_is_begin = False
        # IBKR reports history ``v`` in units of the body's ``volumeFactor`` (its spec's AAPL
        # example: 100); rows in :attr:`bars`/:attr:`intraday` are raw IBKR rows in those units
        self.history_volume_factor = 100
        self.scanner_conids: list[int] = []
        # orders
        self.orders: dict[str, FakeOrder] = {}
        self.executions: list[FakeExecution] = []
        self.trade_rows: list[dict[str, Any]] = []  # raw extra /iserver/account/trades rows
        self.extra_position_rows: list[dict[str, Any]] = []  # raw extra portfolio rows
        self.questions: list[tuple[str, str]] = []
        self.replies: list[tuple[str, bool]] = []
        self.order_posts = 0
        self.timeout_after_accept = False
        self.timeout_before_accept = False
        self.auto_fill_market = True
        self._pending: dict[str, _PendingOrder] = {}
        self._next_order_id = 1000
        # observation and fault injection
        self.calls: list[Call] = []
        self.rejected_signatures = 0
        self._forced: list[_Forced] = []
        # IBKR's documented request limits with a 429 penalty box (None: unlimited)
        self.limiter: RateLimiter | None = RateLimiter(clock)
        # the websocket /ws (loopback only: tests.fakes.ibkr_ws)
        self.ws = FakeIbkrWs(self)

    # -- knobs -----------------------------------------------------------------------

    def access_token(self) -> str:
        return self.keys.access_token

    def quote_fields(self, conid: int) -> dict[str, str]:
        """``conid``'s market-data fields as IBKR formats them (snapshot and websocket)."""
        return self._fields(self._instrument(conid))

    def add_instrument(self, instrument: FakeInstrument) -> FakeInstrument:
        self.instruments[instrument.conid] = instrument
        return instrument

    def fail(self, prefix: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` authenticated requests whose path starts with ``prefix``
        with ``status``."""
        self._forced.append(_Forced(prefix, status, times))

    def take_session(self, sticky: int = 0) -> None:
        """Another login (TWS, mobile) takes the brokerage session; the next ``sticky``
        ``ssodh/init`` calls do not win it back (they answer ``competing: true``)."""
        self.authenticated = False
        self.competing = True
        self.bridge.sticky_inits = sticky
        self.ws.bridge_changed()

    def nightly_reset(self, duration_s: float = 0.0) -> None:
        """IBKR's nightly ``/iserver`` reset: the bridge drops; for ``duration_s`` (on the
        clock) ``ssodh/init`` cannot bring it back (``authenticated: false``)."""
        self.drop_bridge("nightly reset")
        self.bridge.refuse_until = self.clock.monotonic() + duration_s

    def drop_bridge(self, reason: str = "dropped") -> None:
        """The brokerage session goes away (not competing): ``/iserver/*`` answers "no
        bridge" until ``ssodh/init``."""
        self.authenticated = False
        self.competing = False
        self.accounts_queried = False
        self.bridge.up_at = None
        self.bridge.drops.append((self.clock.monotonic(), reason))
        self.ws.bridge_changed()

    def expire_lst(self) -> None:
        """Forget the live session token: the next signed request gets a 401."""
        self.lst = None

    def fill(self, order_id: str, price: Decimal, qty: int | None = None) -> FakeExecution:
        order = self.orders[order_id]
        qty = order.qty - order.filled if qty is None else qty
        total = (order.avg_price or Decimal(0)) * order.filled + price * qty
        order.filled += qty
        order.avg_price = (total / order.filled).quantize(Decimal("0.0001"))
        order.status = "Filled" if order.filled >= order.qty else "Submitted"
        execution = FakeExecution(
            execution_id=f"0000e0d5.{len(self.executions) + 1:08x}.01.01",
            order=order,
            qty=qty,
            price=price,
            commission=Decimal("6.00"),
            at=self.clock.now(),
        )
        self.executions.append(execution)
        return execution

    def add_option_execution(
        self,
        *,
        underlying: str,
        description: str,
        side: str,
        size: int,
        price: Decimal,
        conid: int,
        order_id: int,
        execution_id: str | None = None,
        multiplier: int = 100,
        account: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """An option execution as ``/iserver/account/trades`` reports it: ``symbol`` and
        ``contract_description_1`` the underlying, ``contract_description_2`` the contract,
        ``net_amount`` including the multiplier (the shape of IBKR's documented fields and of
        a captured futures-option row). Not linked to an order, positions or cash: it only
        shows up in the trades list. ``extra`` overrides or adds fields."""
        at = self.clock.now()
        account = account or self.accounts[0].account_id
        row: dict[str, Any] = {
            "execution_id": execution_id or f"0000e0d5.{len(self.trade_rows) + 1:08x}.02.01",
            "symbol": underlying,
            "supports_tax_opt": "1",
            "side": side,
            "order_description": f"{'Bot' if side == 'B' else 'Sold'} {size} @ {price} on ASX",
            "trade_time": at.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S"),
            "trade_time_r": int(at.timestamp() * 1000),
            "size": float(size),
            "price": str(price),
            "order_id": order_id,
            "exchange": "ASX",
            "commission": "3.50",
            "net_amount": float(size * price * multiplier),
            "account": account,
            "accountCode": account,
            "company_name": "",
            "contract_description_1": underlying,
            "contract_description_2": description,
            "sec_type": "OPT",
            "conid": conid,
            "conidEx": f"{conid}@ASX",
            "open_close": "???",
            "liquidation_trade": "0",
            "is_event_trading": "0",
            **extra,
        }
        self.trade_rows.append(row)
        return row

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the handler --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (MockTransport handler). ``FakeTimeout`` becomes ReadTimeout."""
        try:
            status, body = self.dispatch(
                request.method,
                str(request.url.copy_with(query=None, fragment=None)),
                request.url.path,
                dict(request.url.params),
                request.headers.get("authorization", ""),
                request.content,
            )
        except FakeTimeout:
            raise httpx.ReadTimeout("fake IBKR timed out", request=request) from None
        return httpx.Response(status, json=body)

    def dispatch(
        self,
        method: str,
        full_url: str,
        path: str,
        query: dict[str, str],
        authorization: str,
        content: bytes,
    ) -> tuple[int, Any]:
        if not path.startswith(BASE_PATH):
            return 404, {"error": "not found"}
        api_path = path[len(BASE_PATH) :]
        body = json.loads(content) if content else None
        self.calls.append(Call(method, api_path, self.clock.monotonic(), query, body))
        self.ws.activity.set()
        params = _parse_authorization(authorization)
        if self.limiter is not None and not self.limiter.admit(
            params.get("oauth_consumer_key", ""), method, api_path
        ):
            return 429, {"error": "Too Many Requests"}
        if api_path == "/oauth/live_session_token":
            return self._live_session_token(method, full_url, params)
        if not self._verify_hmac(method, full_url, params):
            self.rejected_signatures += 1
            return 401, {"error": "invalid signature"}
        for forced in self._forced:
            if forced.times > 0 and api_path.startswith(forced.prefix):
                forced.times -= 1
                return forced.status, {"error": f"forced {forced.status}"}
        return self._route(method, api_path, query, body)

    # -- OAuth, IBKR side -------------------------------------------------------------------------

    def _base(self, method: str, url: str, params: dict[str, str], prepend: str = "") -> bytes:
        pairs = sorted((k, v) for k, v in params.items() if k not in ("realm", "oauth_signature"))
        normalized = "&".join(f"{k}={v}" for k, v in pairs)
        text = prepend + "&".join([method, quote_plus(url), quote_plus(normalized)])
        return text.encode()

    def _live_session_token(
        self, method: str, url: str, params: dict[str, str]
    ) -> tuple[int, Any]:
        self.lst_requests += 1
        if (
            method != "POST"
            or params.get("oauth_consumer_key") != self.keys.consumer_key
            or params.get("oauth_token") != self.keys.access_token
            or params.get("oauth_signature_method") != "RSA-SHA256"
            or "diffie_hellman_challenge" not in params
        ):
            self.rejected_signatures += 1
            return 401, {"error": "invalid consumer"}
        signature = base64.b64decode(unquote_plus(params.get("oauth_signature", "")))
        try:
            self.keys.signature_key.public_key().verify(
                signature,
                self._base(method, url, params, prepend=self.keys.secret.hex()),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            self.rejected_signatures += 1
            return 401, {"error": "invalid signature"}
        challenge = int(params["diffie_hellman_challenge"], 16)
        self.last_dh_challenge = challenge
        b = secrets.randbits(256)
        response = pow(2, b, self.keys.dh_prime)
        shared = pow(challenge, b, self.keys.dh_prime)
        hex_k = format(shared, "x")
        raw_k = bytes.fromhex(hex_k if len(hex_k) % 2 == 0 else "0" + hex_k)
        if raw_k[0] & 0x80:  # Java's BigInteger keeps a sign byte
            raw_k = b"\x00" + raw_k
        lst_raw = hmac.new(raw_k, self.keys.secret, hashlib.sha1).digest()
        self.lst = base64.b64encode(lst_raw).decode()
        self._nonces.clear()
        if self.lst_issued:  # a new token starts a new session: the old bridge is gone
            self.drop_bridge("new live session token")
        self.lst_issued += 1
        self.ws.new_login()
        self.lst_expires_ms = int(
            (self.clock.now() + timedelta(seconds=self.lst_lifetime_s)).timestamp() * 1000
        )
        return 200, {
            "diffie_hellman_response": format(response, "x"),
            "live_session_token_signature": hmac.new(
                lst_raw, self.keys.consumer_key.encode(), hashlib.sha1
            ).hexdigest(),
            "live_session_token_expiration": self.lst_expires_ms,
        }

    def _verify_hmac(self, method: str, url: str, params: dict[str, str]) -> bool:
        if self.lst is None or self.clock.now().timestamp() * 1000 >= self.lst_expires_ms:
            return False
        if (
            params.get("oauth_consumer_key") != self.keys.consumer_key
            or params.get("oauth_token") != self.keys.access_token
            or params.get("oauth_signature_method") != "HMAC-SHA256"
        ):
            return False
        nonce = params.get("oauth_nonce", "")
        if not nonce or nonce in self._nonces:
            return False
        expected = hmac.new(
            base64.b64decode(self.lst), self._base(method, url, params), hashlib.sha256
        ).digest()
        given = base64.b64decode(unquote_plus(params.get("oauth_signature", "")))
        if not hmac.compare_digest(expected, given):
            return False
        self._nonces.add(nonce)
        return True

    # -- endpoints -----------------------------------------------------------------------

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        routes: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("POST", "/tickle"): self._tickle,
            ("POST", "/iserver/auth/status"): self._auth_status,
            ("GET", "/iserver/auth/status"): self._auth_status,
            ("POST", "/iserver/auth/ssodh/init"): self._ssodh_init,
            ("POST", "/logout"): lambda: (200, {"status": True}),
            ("GET", "/portfolio/accounts"): self._portfolio_accounts,
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        self._settle_bridge()
        if path.startswith("/iserver") and not self.authenticated:
            self.bridge.no_bridge_answers += 1
            return 400, {"error": NO_BRIDGE}
        if path.startswith("/iserver/account/") and path != "/iserver/account/orders" and (
            not self.accounts_queried
        ):
            return 400, {"error": "Please query /accounts first"}
        if (method, path) == ("GET", "/iserver/accounts"):
            self.accounts_queried = True
            ids = [a.account_id for a in self.accounts]
            return 200, {"accounts": ids, "selectedAccount": ids[0], "isPaper": False}
        if (method, path) == ("GET", "/iserver/secdef/search"):
            return self._secdef_search(query)
        if (method, path) == ("GET", SNAPSHOT_PATH):
            return self._snapshot(query)
        if (method, path) == ("GET", "/iserver/marketdata/history"):
            return self._history(query)
        if (method, path) == ("POST", "/iserver/scanner/run"):
            return self._scanner(body)
        if (method, path) == ("GET", "/iserver/account/orders"):
            return 200, {"orders": [self._order_json(o) for o in self.orders.values()],
                         "snapshot": True}
        if (method, path) == ("GET", "/iserver/account/trades"):
            return 200, [self._execution_json(e) for e in self.executions] + self.trade_rows
        if method == "GET" and path.startswith("/iserver/account/order/status/"):
            return self._order_status(parts[-1])
        if method == "POST" and len(parts) == 4 and parts[:2] == ["iserver", "account"] and (
            parts[3] == "orders"
        ):
            return self._place(parts[2], body)
        if method == "POST" and parts[:2] == ["iserver", "reply"] and len(parts) == 3:
            return self._reply(parts[2], body)
        if method == "DELETE" and len(parts) == 5 and parts[3] == "order":
            return self._cancel(parts[2], parts[4])
        if method == "GET" and parts[0] == "portfolio" and len(parts) == 3 and (
            parts[2] == "summary"
        ):
            return self._summary(parts[1])
        if method == "GET" and parts[0] == "portfolio" and len(parts) == 4 and (
            parts[2] == "positions"
        ):
            return self._positions(parts[1])
        return 404, {"error": f"no route {method} {path}"}

    def _status_json(self) -> dict[str, Any]:
        return {
            "authenticated": self.authenticated,
            "competing": self.competing,
            "connected": True,
            "message": "",
            "MAC": "00:00:00:00:00:00",
            "serverInfo": {"serverName": "fake", "serverVersion": "Build fake"},
        }

    def _tickle(self) -> tuple[int, Any]:
        self._settle_bridge()
        return 200, {
            "session": self.ws.session_id,
            "ssoExpires": 600000,
            "collission": False,
            "userId": 1,
            "iserver": {"authStatus": self._status_json()},
        }

    def _auth_status(self) -> tuple[int, Any]:
        self._settle_bridge()
        return 200, self._status_json()

    def _ssodh_init(self) -> tuple[int, Any]:
        self.init_calls += 1
        self.bridge.init_at.append(self.clock.monotonic())
        if self.other_login_holds or self.bridge.sticky_inits > 0:
            self.bridge.sticky_inits = max(0, self.bridge.sticky_inits - 1)
            self.authenticated = False
            self.competing = True
        elif self.clock.monotonic() < self.bridge.refuse_until:
            self.authenticated = False
            self.competing = False
        elif self.init_settle_s > 0:
            self.authenticated = False
            self.competing = False
            self.bridge.up_at = self.clock.monotonic() + self.init_settle_s
        else:
            self.authenticated = True
            self.competing = False
            self.ws.bridge_changed()
        return 200, self._status_json()

    def _settle_bridge(self) -> None:
        """An ``ssodh/init`` that answered before the session was up completes later."""
        up_at = self.bridge.up_at
        if up_at is not None and self.clock.monotonic() >= up_at:
            self.bridge.up_at = None
            if not self.competing:
                self.authenticated = True
                self.ws.bridge_changed()

    def _portfolio_accounts(self) -> tuple[int, Any]:
        return 200, [
            {
                "id": a.account_id,
                "accountId": a.account_id,
                "accountVan": a.account_id,
                "accountTitle": "Test Trader",
                "displayName": a.account_id,
                "currency": "AUD",
                "type": "DEMO" if a.paper else "INDIVIDUAL",
                "tradingType": "PMRGN",
                "desc": a.account_id,
            }
            for a in self.accounts
        ]

    def _account(self, account_id: str) -> FakeAccount | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def _secdef_search(self, query: dict[str, str]) -> tuple[int, Any]:
        symbol = query.get("symbol", "").upper()
        found = []
        for inst in self.instruments.values():
            if inst.symbol == symbol:
                found.append({
                    "conid": str(inst.conid + 900_000),
                    "companyHeader": f"{inst.name} - NYSE",
                    "companyName": inst.name,
                    "symbol": symbol,
                    "description": "NYSE",
                    "sections": [{"secType": "STK", "exchange": "NYSE;"}],
                })
                found.append({
                    "conid": str(inst.conid),
                    "companyHeader": f"{inst.name} - ASX",
                    "companyName": inst.name,
                    "symbol": symbol,
                    "description": "ASX",
                    "sections": [{"secType": "STK", "exchange": "ASX;"}],
                })
        return 200, found

    def _instrument(self, conid: int) -> FakeInstrument:
        inst = self.instruments.get(conid)
        if inst is None:  # the bench asks for thousands of conids: make them up
            base = Decimal(1 + conid % 50)
            inst = FakeInstrument(
                symbol=f"Z{conid}",
                conid=conid,
                name=f"Generated {conid}",
                prev_close=base,
                open=base + Decimal("0.05"),
                last=base + Decimal("0.06"),
                bid=base + Decimal("0.05"),
                ask=base + Decimal("0.07"),
                high=base + Decimal("0.10"),
                low=base,
                volume=1_234_567,
            )
            self.instruments[conid] = inst
        return inst

    def _snapshot(self, query: dict[str, str]) -> tuple[int, Any]:
        conids = [int(c) for c in query.get("conids", "").split(",") if c]
        if len(conids) > 100:
            return 400, {"error": "too many conids"}
        now_ms = int(self.clock.now().timestamp() * 1000)
        rows = []
        for conid in conids:
            row: dict[str, Any] = {"conid": conid, "conidEx": str(conid), "_updated": now_ms}
            if conid in self.subscribed:
                row.update(self._fields(self._instrument(conid)))
            else:
                self.subscribed.add(conid)  # the pre-flight: subscribe, no data yet
            rows.append(row)
        return 200, rows

    @staticmethod
    def _fields(inst: FakeInstrument) -> dict[str, str]:
        prefix = "C" if inst.closed else ""
        out = {"55": inst.symbol, "6509": "RpB", "7741": f"{inst.prev_close:,}"}
        for key, value in (("31", inst.last), ("84", inst.bid), ("86", inst.ask),
                           ("7295", inst.open), ("70", inst.high), ("71", inst.low)):
            if value is not None:
                out[key] = (prefix if key == "31" else "") + f"{value:,}"
        if inst.volume:
            out["87"] = _short_volume(inst.volume)
            out["7762"] = str(inst.volume)
        return out

    def _history(self, query: dict[str, str]) -> tuple[int, Any]:
        conid = int(query.get("conid", "0"))
        inst = self._instrument(conid)
        bar = query.get("bar", "1d")
        if not bar.endswith("d"):
            return self._intraday_history(inst, query, bar)
        period = int(query.get("period", "30d").rstrip("d") or 30)
        data = self.bars.get(conid)
        if data is None:
            data = self._made_up_bars(inst, period)
        return 200, {"symbol": inst.symbol, "text": inst.name, "barLength": 86400,
                     "volumeFactor": self.history_volume_factor, "data": data}

    def _intraday_history(
        self, inst: FakeInstrument, query: dict[str, str], bar: str
    ) -> tuple[int, Any]:
        """Bars of ``bar`` length starting in (startTime - period, startTime] (with
        :attr:`history_start_is_begin`: (startTime, startTime + period]), never after now
        (IBKR has no future), from :attr:`intraday` rows or made-up rows on the bar grid
        from 10:00 Sydney. ``startTime`` is UTC ``YYYYMMDD-hh:mm:ss`` (default: now)."""
        try:
            length = _duration(bar)
            period = _duration(query.get("period", "1d"))
            start_time = query.get("startTime")
            end = (datetime.strptime(start_time, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
                   if start_time else self.clock.now())
        except ValueError as exc:
            return 400, {"error": f"bad history request: {exc}"}
        if self.history_start_is_begin and start_time:
            begin, end = end, min(end + period, self.clock.now())
        else:
            end = min(end, self.clock.now())
            begin = end - period
        rows = self.intraday.get(inst.conid)
        if rows is None:
            rows = self._made_up_minutes(inst, begin, end, length)
        end_ms, begin_ms = end.timestamp() * 1000, begin.timestamp() * 1000
        data = [r for r in rows if begin_ms < r["t"] <= end_ms]
        return 200, {
            "symbol": inst.symbol, "text": inst.name, "priceFactor": 100,
            "startTime": begin.strftime("%Y%m%d-%H:%M:%S"), "timePeriod": query.get("period"),
            "barLength": int(length.total_seconds()),
            "volumeFactor": self.history_volume_factor, "outsideRth": False,
            "data": data, "points": len(data),
        }

    def _made_up_minutes(
        self, inst: FakeInstrument, begin: datetime, end: datetime, length: timedelta
    ) -> list[dict[str, Any]]:
        """A zig-zag around the instrument's open on each weekday session (10:00-16:00
        Sydney) between ``begin`` and ``end``, one row per ``length`` on the 10:00 grid."""
        base = inst.open or inst.prev_close
        tick = Decimal("0.01")
        rows: list[dict[str, Any]] = []
        day = begin.astimezone(SYDNEY).date()
        while day <= end.astimezone(SYDNEY).date():
            if day.weekday() < 5:
                session = datetime(day.year, day.month, day.day, 10, tzinfo=SYDNEY)
                minutes = int(length.total_seconds() // 60)
                for k in range(0, 360, minutes):
                    at = session + timedelta(minutes=k)
                    o = base + tick * ((k * 7) % 11 - 5)
                    c = base + tick * (((k + minutes) * 7) % 11 - 5)
                    rows.append({"o": float(o), "c": float(c), "h": float(max(o, c) + tick),
                                 "l": float(min(o, c) - tick), "v": 1000 + k,
                                 "t": int(at.timestamp() * 1000)})
            day += timedelta(days=1)
        return rows

    def _made_up_bars(self, inst: FakeInstrument, count: int) -> list[dict[str, Any]]:
        """``count`` weekday bars up to and including today (today's is still forming)."""
        day = self.clock.now().astimezone(SYDNEY).date()
        days: list[date] = []
        while len(days) < count:
            if day.weekday() < 5:
                days.append(day)
            day -= timedelta(days=1)
        bars = []
        for n, d in enumerate(reversed(days)):
            close = inst.prev_close + Decimal(n % 5) / 100 - Decimal("0.02")
            bars.append(daily_bar(d, str(close), str(close + Decimal("0.05")),
                                  str(close - Decimal("0.04")), str(close + Decimal("0.01")),
                                  100_000 + n))
        return bars

    def _scanner(self, body: Any) -> tuple[int, Any]:
        """IBKR's documented request (its OpenAPI spec, ``/iserver/scanner/run``): a JSON object
        with string ``instrument``, ``location`` and ``type`` and a ``filter`` list of
        ``{code, value}``; anything else draws the documented 400 "Invalid input format or
        missing required fields". Rows follow the spec's response example."""
        filters = body.get("filter", []) if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or not all(isinstance(body.get(k), str) and body[k] for k in
                       ("instrument", "location", "type"))
            or not isinstance(filters, list)
            or not all(isinstance(f, dict) and isinstance(f.get("code"), str) and "value" in f
                       for f in filters)
        ):
            return 400, {"error": "Invalid input format or missing required fields"}
        contracts: list[dict[str, Any]] = []
        for conid in self.scanner_conids:
            inst = self._instrument(conid)
            contracts.append({
                "server_id": f"{len(contracts)}",
                "symbol": inst.symbol,
                "conidex": str(conid),
                "con_id": conid,
                "company_name": inst.name,
                "listing_exchange": "ASX",
                "sec_type": "STK",
            })
        return 200, {"contracts": contracts, "scan_data_column_name": "Gap"}

    # -- orders -----------------------------------------------------------------------

    def _place(self, account_id: str, body: Any) -> tuple[int, Any]:
        self.order_posts += 1
        if self._account(account_id) is None:
            return 400, {"error": f"account {account_id} not found"}
        try:
            order = body["orders"][0]
        except (TypeError, KeyError, IndexError):
            return 400, {"error": "bad order body"}
        if any(o.coid == order.get("cOID") for o in self.orders.values()):
            return 200, {"error": f"Order with local id {order.get('cOID')} already exists"}
        if self.timeout_before_accept:
            self.timeout_before_accept = False
            raise FakeTimeout
        if self.questions:
            reply_id = str(uuid.uuid4())
            pending = _PendingOrder(order, account_id, deque(self.questions))
            self._pending[reply_id] = pending
            return 200, [self._question_json(reply_id, pending)]
        return self._accept(order, account_id)

    @staticmethod
    def _question_json(reply_id: str, pending: _PendingOrder) -> dict[str, Any]:
        message_id, text = pending.questions[0]
        return {"id": reply_id, "message": [text], "isSuppressed": False,
                "messageIds": [message_id]}

    def _reply(self, reply_id: str, body: Any) -> tuple[int, Any]:
        confirmed = bool(body and body.get("confirmed"))
        self.replies.append((reply_id, confirmed))
        pending = self._pending.pop(reply_id, None)
        if pending is None:
            return 400, {"error": "reply id not found"}
        if not confirmed:
            return 200, {"error": "order cancelled: not confirmed"}
        pending.questions.popleft()
        if pending.questions:
            new_id = str(uuid.uuid4())
            self._pending[new_id] = pending
            return 200, [self._question_json(new_id, pending)]
        return self._accept(pending.order, pending.account)

    def _accept(self, order: dict[str, Any], account_id: str) -> tuple[int, Any]:
        self._next_order_id += 1
        conid = int(order["conid"])
        inst = self._instrument(conid)
        record = FakeOrder(
            order_id=str(self._next_order_id),
            coid=str(order.get("cOID", "")),
            account=account_id,
            conid=conid,
            symbol=inst.symbol,
            side=str(order["side"]),
            qty=int(order["quantity"]),
            order_type=str(order["orderType"]),
            price=None if order.get("price") is None else Decimal(str(order["price"])),
            tif=str(order.get("tif", "DAY")),
        )
        self.orders[record.order_id] = record
        if record.order_type == "MKT" and self.auto_fill_market:
            price = inst.ask if record.side == "BUY" else inst.bid
            self.fill(record.order_id, price or inst.last or inst.prev_close)
        if self.timeout_after_accept:
            self.timeout_after_accept = False
            raise FakeTimeout
        return 200, [{"order_id": record.order_id, "order_status": record.status,
                      "encrypt_message": "1"}]

    def _order_json(self, order: FakeOrder) -> dict[str, Any]:
        kind = {"LMT": "Limit", "MKT": "Market", "STP": "Stop"}.get(order.order_type, "Limit")
        row: dict[str, Any] = {
            "acct": order.account,
            "conid": order.conid,
            "conidex": str(order.conid),
            "orderId": int(order.order_id),
            "ticker": order.symbol,
            "side": order.side,
            "totalSize": float(order.qty),
            "filledQuantity": float(order.filled),
            "remainingQuantity": float(order.qty - order.filled),
            "status": order.status,
            "orderType": kind,
            "timeInForce": order.tif,
            "order_ref": order.coid,
            "avgPrice": "" if order.avg_price is None else str(order.avg_price),
            "listingExchange": "ASX",
        }
        if order.price is not None:
            row["price" if order.order_type != "STP" else "auxPrice"] = str(order.price)
        return row

    def _order_status(self, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None:
            return 400, {"error": f"order {order_id} not found"}
        return 200, {
            "order_id": int(order.order_id),
            "conid": order.conid,
            "symbol": order.symbol,
            "side": order.side[0],
            "size": f"{order.qty - order.filled}.0",
            "total_size": f"{order.qty}.0",
            "cum_fill": f"{order.filled}.0",
            "order_status": order.status,
            "order_type": {"LMT": "LIMIT", "MKT": "MARKET", "STP": "STOP"}[order.order_type],
            "limit_price": str(order.price) if order.order_type == "LMT" else None,
            "stop_price": str(order.price) if order.order_type == "STP" else None,
            "tif": order.tif,
            "average_price": "" if order.avg_price is None else str(order.avg_price),
            "account": order.account,
        }

    def _cancel(self, account_id: str, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None or order.account != account_id:
            return 400, {"error": f"order {order_id} not found"}
        if order.status not in ("Filled", "Cancelled"):
            order.status = "Cancelled"
        return 200, {"msg": "Request was submitted", "order_id": int(order_id),
                     "conid": order.conid, "account": account_id}

    def _execution_json(self, e: FakeExecution) -> dict[str, Any]:
        return {
            "execution_id": e.execution_id,
            "symbol": e.order.symbol,
            "side": e.order.side[0],
            "order_description": f"{e.order.side} {e.qty} @ {e.price}",
            "trade_time": e.at.strftime("%Y%m%d-%H:%M:%S"),
            "trade_time_r": int(e.at.timestamp() * 1000),
            "size": float(e.qty),
            "price": str(e.price),
            "order_ref": e.order.coid,
            "order_id": int(e.order.order_id),
            "exchange": "ASX",
            "commission": str(e.commission),
            "net_amount": float(e.qty * e.price),
            "account": e.order.account,
            "accountCode": e.order.account,
            "conid": str(e.order.conid),
            "sec_type": "STK",
        }

    def _positions(self, account_id: str) -> tuple[int, Any]:
        held: dict[int, tuple[int, Decimal]] = {}
        for e in self.executions:
            if e.order.account != account_id:
                continue
            qty, cost = held.get(e.order.conid, (0, Decimal(0)))
            signed = e.qty if e.order.side == "BUY" else -e.qty
            if signed > 0:
                cost += e.price * e.qty + e.commission
            elif qty:
                cost = cost * (qty + signed) / qty
            held[e.order.conid] = (qty + signed, cost)
        rows = []
        for conid, (qty, cost) in held.items():
            if qty == 0:
                continue
            inst = self._instrument(conid)
            rows.append({
                "acctId": account_id,
                "conid": conid,
                "contractDesc": inst.symbol,
                "ticker": inst.symbol,
                "position": float(qty),
                "avgCost": float(cost / qty),
                "avgPrice": float(cost / qty),
                "mktPrice": float(inst.last or inst.prev_close),
                "currency": "AUD",
                "assetClass": "STK",
            })
        rows.extend(self.extra_position_rows)
        return 200, rows

    def _summary(self, account_id: str) -> tuple[int, Any]:
        account = self._account(account_id)
        if account is None:
            return 400, {"error": f"account {account_id} not found"}
        cash = account.cash
        for e in self.executions:
            if e.order.account == account_id:
                sign = -1 if e.order.side == "BUY" else 1
                cash += sign * e.qty * e.price - e.commission
        _, positions = self._positions(account_id)
        value = sum((Decimal(str(p["position"])) * Decimal(str(p["mktPrice"]))
                     for p in positions), Decimal(0))

        def amount(x: Decimal) -> dict[str, Any]:
            return {"amount": float(x), "currency": "AUD", "isNull": False,
                    "timestamp": int(self.clock.now().timestamp() * 1000), "value": None}

        return 200, {
            "accountcode": {"amount": 0.0, "currency": None, "isNull": False,
                            "value": account_id},
            "totalcashvalue": amount(cash),
            "netliquidation": amount(cash + value),
            "buyingpower": amount(cash * 4),
            "availablefunds": amount(cash),
        }


def _short_volume(volume: int) -> str:
    if volume >= 1_000_000:
        return f"{volume / 1_000_000:.2f}M"
    if volume >= 1_000:
        return f"{volume / 1_000:.1f}K"
    return str(volume)


def _parse_authorization(header: str) -> dict[str, str]:
    if not header.startswith("OAuth "):
        return {}
    out: dict[str, str] = {}
    for part in header[len("OAuth ") :].split(","):
        key, _, value = part.strip().partition("=")
        out[key] = value.strip('"')
    return out


def daily_bar(day: date, o: str, h: str, low: str, c: str, v: int) -> dict[str, Any]:
    """One IBKR history bar; ``t`` is the ms epoch of 10:00 Sydney on ``day``."""
    start = datetime(day.year, day.month, day.day, 10, tzinfo=SYDNEY)
    return {"o": float(o), "h": float(h), "l": float(low), "c": float(c), "v": v,
            "t": int(start.timestamp() * 1000)}


def minute_bar(at: datetime, o: str, h: str, low: str, c: str, v: int) -> dict[str, Any]:
    """One IBKR intraday history row; ``t`` is the ms epoch of the bar's start ``at``."""
    return {"o": float(o), "h": float(h), "l": float(low), "c": float(c), "v": v,
            "t": int(at.timestamp() * 1000)}


def _duration(text: str) -> timedelta:
    """IBKR's ``period``/``bar`` sizes: ``"1d"``, ``"2h"``, ``"5min"``."""
    for suffix, unit in (("min", timedelta(minutes=1)), ("h", timedelta(hours=1)),
                         ("d", timedelta(days=1))):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * unit
    raise ValueError(f"unsupported size {text!r}")


@contextlib.asynccontextmanager
async def autojump(clock: SimulatedClock, idle_passes: int = 20) -> AsyncIterator[None]:
    """Drive ``clock`` like a fast-forwarding wall clock: whenever the event loop has been
    idle for ``idle_passes`` passes, jump to the next pending timer. Lets code that paces
    itself with ``clock.sleep`` run under a SimulatedClock without a test driving time.
    Only for in-memory transports (real socket I/O would see time jump while it waits)."""

    async def run() -> None:
        while True:
            for _ in range(idle_passes):
                await asyncio.sleep(0)
            deadline = clock.next_deadline()
            if deadline is not None:
                # next_deadline() is a datetime (microsecond resolution): a float deadline
                # between two microseconds would round down and never fire; step past it.
                clock.advance_to(deadline + timedelta(microseconds=1))

    task = asyncio.get_running_loop().create_task(run(), name="autojump")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- loopback HTTP -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve_loopback(
    fake: FakeIbkr, *, before: Callable[[httpx.Request], None] | None = None
) -> AsyncIterator[str]:
    """Serve ``fake`` over HTTP/1.1 on 127.0.0.1 (a random port) in the running loop;
    yields the base URL (``http://127.0.0.1:PORT/v1/api``). ``before`` sees every REST
    request first (e.g. :meth:`~tests.fakes.ibkr_market.FakeIbkrMarket.before`, bringing a
    market-driven fake up to the request's instant)."""

    open_writers: set[asyncio.StreamWriter] = set()
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, target, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                head = request_line
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    head += line
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                if headers.get("upgrade", "").lower() == "websocket":
                    await fake.ws.serve(reader, writer, head + b"\r\n")
                    return
                length = int(headers.get("content-length", "0"))
                content = await reader.readexactly(length) if length else b""
                url = httpx.URL(f"http://{headers.get('host', '127.0.0.1')}{target}")
                if before is not None:
                    before(httpx.Request(method, url, content=content))
                try:
                    status, body = fake.dispatch(
                        method,
                        str(url.copy_with(query=None)),
                        url.path,
                        dict(url.params),
                        headers.get("authorization", ""),
                        content,
                    )
                except FakeTimeout:
                    return  # drop the connection
                payload = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            open_writers.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{BASE_PATH}"
    finally:
        server.close()
        for writer in list(open_writers):
            writer.close()  # idle keep-alive connections: their handlers see EOF and end
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


# -- wiring for tests ------------------------------------------------------------------------

TEST_BASE_URL = "https://api.ibkr.test/v1/api"


def make_broker(
    fake: FakeIbkr,
    directory: Path,
    *,
    events: Any = None,
    live_trading: bool = False,
    client: httpx.AsyncClient | None = None,
    base_url: str = TEST_BASE_URL,
    pacing_file: Path | None = None,
    rsa_keys: Any = None,
    **ibkr: Any,
) -> tuple[Any, httpx.AsyncClient]:
    """The real IBKR facade wired to ``fake`` (MockTransport unless ``client`` is given);
    brokers given the same ``pacing_file`` share their pacing as processes of one account
    do. The RSA key work is done in this process unless ``rsa_keys`` says otherwise."""
    from skimd.config import BrokerSettings, Settings
    from skimd.infrastructure.brokers.events import RecordingBrokerEvents
    from skimd.infrastructure.brokers.ibkr.facade import build_ibkr_broker
    from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
    from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
    from skimd.infrastructure.calendar import AsxCalendar

    settings = Settings(
        broker=BrokerSettings(kind="ibkr", live_trading=live_trading),
        ibkr=fake.keys.settings(directory, base_url, **ibkr),
    )
    client = client or httpx.AsyncClient(transport=fake.transport())
    broker = build_ibkr_broker(
        settings,
        clock=fake.clock,
        events=events if events is not None else RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        calendar=AsxCalendar("Australia/Sydney"),
        rsa_keys=rsa_keys or InProcessRsaKeys(),
        http_client=client,
        pacing_file=pacing_file,
    )
    return broker, client
