"""OAuth 1.0a: the LST math against the fake's independent computation, signing, refresh."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest

from skimd.clock import SimulatedClock
from skimd.errors import BrokerAuthError, ConfigurationError, SecretFileError
from skimd.infrastructure.brokers.ibkr.auth import (
    IbkrOAuth,
    authorization_header,
    base_string,
    java_bytes,
)
from skimd.infrastructure.brokers.ibkr.credentials import (
    OAuthCredentials,
    load_credentials,
    parse_dh_prime,
)
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from tests.fakes.ibkr_server import (
    MERSENNE_127,
    RFC3526_2048,
    TEST_BASE_URL,
    FakeIbkr,
    FakeIbkrKeys,
)

LST_URL = TEST_BASE_URL + "/oauth/live_session_token"


def _credentials(keys: FakeIbkrKeys, tmp_path: Path) -> OAuthCredentials:
    return load_credentials(keys.settings(tmp_path, TEST_BASE_URL), InProcessRsaKeys())


def _auth(
    keys: FakeIbkrKeys,
    tmp_path: Path,
    clock: SimulatedClock,
    tokens: list[str] | None = None,
    margin: float = 600.0,
) -> IbkrOAuth:
    return IbkrOAuth(
        _credentials(keys, tmp_path),
        keys=InProcessRsaKeys(),
        clock=clock,
        lst_url=LST_URL,
        refresh_margin_s=margin,
        on_token=tokens.append if tokens is not None else None,
    )


@pytest.fixture(autouse=True)
def _no_rate_limits(fake: FakeIbkr) -> None:
    """These tests send signed requests straight through httpx, without the pacer (it is
    tested in test_ibkr_pacing), so the fake's request limits are off."""
    fake.limiter = None


async def _tickle(client: httpx.AsyncClient, auth: IbkrOAuth) -> httpx.Response:
    return await client.post(TEST_BASE_URL + "/tickle?x=1", auth=auth)


def test_java_bytes_adds_a_sign_byte_exactly_when_the_top_bit_is_set() -> None:
    assert java_bytes(0) == b"\x00"
    assert java_bytes(0x7F) == b"\x7f"
    assert java_bytes(0x80) == b"\x00\x80"  # bit length 8
    assert java_bytes(0xFFFF) == b"\x00\xff\xff"  # bit length 16
    assert java_bytes(0x1FFFF) == b"\x01\xff\xff"  # bit length 17


def test_base_string_sorts_params_and_percent_encodes_url_and_pairs() -> None:
    text = base_string(
        "post",
        "https://api.ibkr.com/v1/api/oauth/live_session_token",
        {"oauth_token": "t", "diffie_hellman_challenge": "ab", "oauth_consumer_key": "K"},
        prepend="00ff",
    )
    assert text == (
        "00ffPOST&https%3A%2F%2Fapi.ibkr.com%2Fv1%2Fapi%2Foauth%2Flive_session_token&"
        "diffie_hellman_challenge%3Dab%26oauth_consumer_key%3DK%26oauth_token%3Dt"
    )


def test_authorization_header_puts_realm_first_then_sorted_params() -> None:
    header = authorization_header("limited_poa", {"b": "2", "a": "1"})
    assert header == 'OAuth realm="limited_poa", a="1", b="2"'


@pytest.mark.parametrize("prime", [RFC3526_2048, MERSENNE_127], ids=["2048-bit", "127-bit"])
async def test_client_derives_the_same_live_session_token_as_ibkr(
    ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path, prime: int
) -> None:
    keys = FakeIbkrKeys(**{**ibkr_keys.__dict__, "dh_prime": prime})
    fake = FakeIbkr(keys, clock=clock)
    tokens: list[str] = []
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        response = await _tickle(client, _auth(keys, tmp_path, clock, tokens))
    assert tokens == [fake.lst]
    assert response.status_code == 200  # the fake verified our HMAC-SHA256 signature
    assert fake.lst_requests == 1 and fake.rejected_signatures == 0
    assert fake.last_dh_challenge is not None and fake.last_dh_challenge < prime


async def test_a_wrong_lst_signature_from_ibkr_is_refused(
    fake: FakeIbkr, ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    def tampering(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        if request.url.path.endswith("/live_session_token"):
            body = response.json()
            body["live_session_token_signature"] = "00" * 20
            return httpx.Response(200, json=body)
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(tampering)) as client:
        with pytest.raises(BrokerAuthError, match="live session token signature mismatch"):
            await _tickle(client, _auth(ibkr_keys, tmp_path, clock))


async def test_ibkr_rejects_a_tampered_request_signature(
    fake: FakeIbkr, ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    auth = _auth(ibkr_keys, tmp_path, clock)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        assert (await _tickle(client, auth)).status_code == 200
        request = client.build_request("POST", TEST_BASE_URL + "/tickle")
        flow = auth.async_auth_flow(request)
        signed = await flow.__anext__()
        header = signed.headers["Authorization"]
        start = header.index('oauth_signature="') + len('oauth_signature="')
        forged = quote_plus(base64.b64encode(b"x" * 32).decode())
        end = header.index('"', start)
        signed.headers["Authorization"] = header[:start] + forged + header[end:]
        response = fake.handle(signed)
        await flow.aclose()
    assert response.status_code == 401
    assert fake.rejected_signatures == 1


async def test_ibkr_refuses_an_lst_request_signed_with_another_key(
    fake: FakeIbkr, ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    other = FakeIbkrKeys.generate(key_size=1024)
    impostor = FakeIbkrKeys(**{**ibkr_keys.__dict__, "signature_key": other.signature_key})
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        with pytest.raises(BrokerAuthError, match="refused the live session token request"):
            await _tickle(client, _auth(impostor, tmp_path, clock))
    assert fake.lst is None


async def test_a_401_derives_a_new_token_and_resends_once(
    fake: FakeIbkr, ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    tokens: list[str] = []
    auth = _auth(ibkr_keys, tmp_path, clock, tokens)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        await _tickle(client, auth)
        fake.expire_lst()
        response = await _tickle(client, auth)
        assert response.status_code == 200
        fake.fail("/tickle", 401, times=2)  # still 401 after the refresh: given back
        assert (await _tickle(client, auth)).status_code == 401
    assert fake.lst_requests == 3
    assert tokens[-1] == fake.lst and len(set(tokens)) == 3


async def test_token_is_refreshed_before_it_expires(
    fake: FakeIbkr, ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.lst_lifetime_s = 3600
    auth = _auth(ibkr_keys, tmp_path, clock, margin=600)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        await _tickle(client, auth)
        clock.advance(2990)
        await _tickle(client, auth)
        assert fake.lst_requests == 1
        clock.advance(20)  # now inside the 600 s margin
        assert (await _tickle(client, auth)).status_code == 200
    assert fake.lst_requests == 2
    assert fake.rejected_signatures == 0


def test_secrets_never_show_in_repr(
    ibkr_keys: FakeIbkrKeys, clock: SimulatedClock, tmp_path: Path
) -> None:
    creds = _credentials(ibkr_keys, tmp_path)
    auth = IbkrOAuth(creds, keys=InProcessRsaKeys(), clock=clock, lst_url=LST_URL)
    text = repr(creds) + repr(auth)
    for secret in (
        ibkr_keys.consumer_key,
        ibkr_keys.access_token,
        ibkr_keys.access_token_secret_b64[:20],
        format(ibkr_keys.dh_prime, "x")[:20],
    ):
        assert secret not in text


@pytest.mark.parametrize("problem", ["missing", "directory", "group-readable", "not-pem"])
def test_unusable_key_file_names_the_file(
    ibkr_keys: FakeIbkrKeys, tmp_path: Path, problem: str
) -> None:
    settings = ibkr_keys.settings(tmp_path, TEST_BASE_URL)
    bad = tmp_path / "encryption-bad.pem"
    if problem == "directory":
        bad.mkdir()
    elif problem == "group-readable":
        bad.write_bytes(settings.encryption_key_file.read_bytes())  # type: ignore[union-attr]
        bad.chmod(0o644)
    elif problem == "not-pem":
        bad.write_text("hello")
        bad.chmod(stat.S_IRUSR | stat.S_IWUSR)
    broken = settings.model_copy(update={"encryption_key_file": bad})
    with pytest.raises(SecretFileError) as err:
        load_credentials(broken, InProcessRsaKeys())
    message = str(err.value)
    assert str(bad) in message and "encryption_key_file" in message
    assert "PRIVATE KEY" not in message


def _der_int(value: int) -> bytes:
    raw = java_bytes(value)
    return b"\x02" + _der_len(len(raw)) + raw


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    return bytes([0x80 | size]) + n.to_bytes(size, "big")


def test_dh_prime_accepts_hex_forms_and_a_pem() -> None:
    hex_prime = format(RFC3526_2048, "x")
    assert parse_dh_prime(hex_prime) == RFC3526_2048
    assert parse_dh_prime("0x" + hex_prime.upper()) == RFC3526_2048
    spaced = ":".join(hex_prime[i : i + 2] for i in range(0, len(hex_prime), 2))
    assert parse_dh_prime(spaced + "\n") == RFC3526_2048
    body = _der_int(RFC3526_2048) + _der_int(2)
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    pem = (
        "-----BEGIN DH PARAMETERS-----\n"
        + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
        + "\n-----END DH PARAMETERS-----\n"
    )
    assert parse_dh_prime(pem) == RFC3526_2048


@pytest.mark.parametrize("text", ["not hex", "", "ff", "-----BEGIN DH PARAMETERS-----\nzz\n"])
def test_dh_prime_garbage_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="dh_prime"):
        parse_dh_prime(text)
