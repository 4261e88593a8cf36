"""OAuth 1.0a for the IBKR Client Portal Web API, as an ``httpx.Auth``.

1. Live session token (LST): a Diffie-Hellman exchange. We send ``A = g^a mod p`` in a
   ``POST /oauth/live_session_token`` signed RSA-SHA256 with the signature key, the
   signature base string prefixed by the *prepend* (the access-token secret decrypted with
   the encryption key, hex). IBKR answers ``B``; ``K = B^a mod p`` as Java's
   ``BigInteger.toByteArray`` bytes keys ``HMAC-SHA1(K, prepend bytes)`` = the LST. IBKR's
   ``live_session_token_signature`` = ``hex(HMAC-SHA1(LST, consumer_key))`` proves we agree.
2. Every later request is signed HMAC-SHA256 keyed by the LST. As in IBind (known to work
   against IBKR), query parameters and JSON bodies are left out of the base string.

The flow refreshes the LST ``refresh_margin_s`` before it expires (by the injected Clock)
and once on a 401 (derive again, resend that request once). A second 401 is returned to
the caller, which turns it into :class:`~skimd.errors.BrokerAuthError`.

A new LST starts a new login session: IBKR's brokerage session (``/iserver``) must then be
opened again with ``ssodh/init`` (IBind does it after every new token: ``oauth_init`` →
``initialize_brokerage_session``,
https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client.py). This module only
counts the tokens (:attr:`IbkrOAuth.generation`) and says when the next one is due
(:meth:`IbkrOAuth.renewal_due`); :mod:`.connection` re-initialises the session, ahead of the
renewal when it can (its ``ssodh/init`` is the request that carries the new token).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from datetime import UTC, datetime
from urllib.parse import quote_plus

import httpx

from skimd.clock import Clock
from skimd.errors import BrokerAuthError, BrokerUnavailableError
from skimd.infrastructure.brokers.ibkr.credentials import OAuthCredentials
from skimd.infrastructure.brokers.ibkr.rsa_keys import KeyRefused, RsaKeys

LST_PATH = "/oauth/live_session_token"
_DH_RANDOM_BITS = 256


# -- the math (pure functions; the fake server re-implements them independently) ----------


def java_bytes(value: int) -> bytes:
    """Big-endian two's-complement bytes of a non-negative int, as Java's
    ``BigInteger.toByteArray``: one leading zero byte when the bit length is a multiple
    of 8 (the sign bit needs room)."""
    if value < 0:
        raise ValueError("java_bytes takes a non-negative int")
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def base_string(
    method: str, url: str, params: Mapping[str, str], prepend: str = ""
) -> str:
    """``prepend + METHOD&quote_plus(url)&quote_plus(k=v&...)`` over sorted params.

    ``url`` must be scheme+host+path (no query); ``realm``/``oauth_signature`` are never in
    ``params``."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(joined)}"


def authorization_header(realm: str, params: Mapping[str, str]) -> str:
    """``OAuth realm="...", k="v", ...`` with params sorted (values already encoded)."""
    parts = [f'realm="{realm}"'] + [f'{k}="{params[k]}"' for k in sorted(params)]
    return "OAuth " + ", ".join(parts)


async def token_secret_prepend(keys: RsaKeys, credentials: OAuthCredentials) -> str:
    """The access-token secret decrypted (RSA PKCS#1 v1.5) with the encryption key, hex."""
    try:
        ciphertext = base64.b64decode(credentials.access_token_secret)
        plain = await keys.decrypt(credentials.encryption_key, ciphertext)
    except (ValueError, KeyRefused):
        raise BrokerAuthError(
            "[ibkr] access_token_secret: cannot be decrypted with the encryption key"
        ) from None
    return plain.hex()


async def rsa_sha256_signature(keys: RsaKeys, credentials: OAuthCredentials, text: str) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) signature with the signature key, percent-encoded
    for the header."""
    raw = await keys.sign(credentials.signature_key, text.encode())
    return quote_plus(base64.b64encode(raw).decode())


def hmac_sha256_signature(lst: str, text: str) -> str:
    """Base64 HMAC-SHA256 keyed by the decoded LST, percent-encoded for the header."""
    raw = hmac.new(base64.b64decode(lst), text.encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(raw).decode())


def compute_live_session_token(dh_response_hex: str, dh_random: int, prime: int,
                               prepend: str) -> str:
    """``base64(HMAC-SHA1(java_bytes(B^a mod p), bytes.fromhex(prepend)))``."""
    shared = pow(int(dh_response_hex, 16), dh_random, prime)
    digest = hmac.new(java_bytes(shared), bytes.fromhex(prepend), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def live_session_token_valid(lst: str, consumer_key: str, signature_hex: str) -> bool:
    expected = hmac.new(base64.b64decode(lst), consumer_key.encode(), hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, signature_hex.lower())


def url_without_query(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None))


# -- the httpx.Auth -----------------------------------------------------------------------


class IbkrOAuth(httpx.Auth):
    """Signs every request; obtains and refreshes the live session token itself.

    ``keys`` does the RSA private-key work (decrypting the access-token secret once,
    signing each live-session-token request); the rest is stdlib. ``lst_url`` is the
    absolute URL of ``/oauth/live_session_token``. ``on_token`` is called with each new LST
    (bootstrap registers it with the log redactor).
    """

    requires_response_body = True

    def __init__(
        self,
        credentials: OAuthCredentials,
        *,
        keys: RsaKeys,
        clock: Clock,
        lst_url: str,
        refresh_margin_s: float = 600.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self._creds = credentials
        self._keys = keys
        self._clock = clock
        self._lst_url = lst_url
        self._margin = refresh_margin_s
        self._on_token = on_token
        self._lst: str | None = None
        self._expires_ms = 0
        self._generation = 0
        self._lock = asyncio.Lock()
        self._prepend: str | None = None

    def __repr__(self) -> str:
        return f"IbkrOAuth(lst_url={self._lst_url!r}, token={'set' if self._lst else 'unset'})"

    @property
    def expires_at(self) -> datetime | None:
        """When the current LST expires (None before the first exchange)."""
        if self._lst is None:
            return None
        return datetime.fromtimestamp(self._expires_ms / 1000, UTC)

    @property
    def generation(self) -> int:
        """How many live session tokens this flow has derived (0 before the first)."""
        return self._generation

    def renewal_due(self) -> bool:
        """True when the next request will derive a new LST first (none yet, or inside the
        refresh margin before expiry)."""
        return self._needs_token()

    def invalidate(self) -> None:
        """Forget the LST so the next request derives a new one."""
        self._lst = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("IbkrOAuth supports httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._needs_token():
            async with self._lock:
                if self._needs_token():
                    lst_request, dh_random = await self._lst_request()
                    response = yield lst_request
                    await response.aread()
                    self._accept(response, dh_random)
        generation = self._generation
        self._sign(request)
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        async with self._lock:
            if self._generation == generation:
                lst_request, dh_random = await self._lst_request()
                lst_response = yield lst_request
                await lst_response.aread()
                self._accept(lst_response, dh_random)
        self._sign(request)
        yield request

    # -- internals ------------------------------------------------------------------------

    def _needs_token(self) -> bool:
        if self._lst is None:
            return True
        now_ms = self._clock.now().timestamp() * 1000
        return now_ms >= self._expires_ms - self._margin * 1000

    def _oauth_params(self, method: str) -> dict[str, str]:
        return {
            "oauth_consumer_key": self._creds.consumer_key,
            "oauth_nonce": secrets.token_hex(16),
            "oauth_signature_method": method,
            "oauth_timestamp": str(int(self._clock.now().timestamp())),
            "oauth_token": self._creds.access_token,
        }

    async def _lst_request(self) -> tuple[httpx.Request, int]:
        if self._prepend is None:
            self._prepend = await token_secret_prepend(self._keys, self._creds)
        dh_random = secrets.randbits(_DH_RANDOM_BITS) | 1 << (_DH_RANDOM_BITS - 1)
        challenge = format(pow(self._creds.dh_generator, dh_random, self._creds.dh_prime), "x")
        params = self._oauth_params("RSA-SHA256")
        params["diffie_hellman_challenge"] = challenge
        url = httpx.URL(self._lst_url)
        text = base_string("POST", url_without_query(url), params, self._prepend)
        params["oauth_signature"] = await rsa_sha256_signature(self._keys, self._creds, text)
        header = authorization_header(self._creds.realm, params)
        return httpx.Request("POST", url, headers={"Authorization": header}), dh_random

    def _accept(self, response: httpx.Response, dh_random: int) -> None:
        if response.status_code in (401, 403):
            raise BrokerAuthError(
                f"IBKR refused the live session token request (HTTP {response.status_code}); "
                "check consumer key, access token and signature key"
            )
        if response.status_code >= 500:
            raise BrokerUnavailableError(
                f"IBKR live session token endpoint failed (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise BrokerAuthError(
                f"IBKR live session token request failed (HTTP {response.status_code})"
            )
        try:
            body = response.json()
            dh_response = str(body["diffie_hellman_response"])
            signature = str(body["live_session_token_signature"])
            expires_ms = int(body["live_session_token_expiration"])
            assert self._prepend is not None
            lst = compute_live_session_token(
                dh_response, dh_random, self._creds.dh_prime, self._prepend
            )
        except (ValueError, KeyError, TypeError):
            raise BrokerAuthError("IBKR live session token response is malformed") from None
        if not live_session_token_valid(lst, self._creds.consumer_key, signature):
            raise BrokerAuthError("live session token signature mismatch")
        self._lst = lst
        self._expires_ms = expires_ms
        self._generation += 1
        if self._on_token is not None:
            self._on_token(lst)

    def _sign(self, request: httpx.Request) -> None:
        assert self._lst is not None
        params = self._oauth_params("HMAC-SHA256")
        text = base_string(request.method, url_without_query(request.url), params)
        params["oauth_signature"] = hmac_sha256_signature(self._lst, text)
        request.headers["Authorization"] = authorization_header(self._creds.realm, params)
