"""The OAuth 1.0a material for IBKR, taken once from settings; the key files checked.

Key files are paths (possibly systemd credential paths under ``$CREDENTIALS_DIRECTORY``);
they stay paths here: the private keys are read and used by an :class:`~.rsa_keys.RsaKeys`
(in the daemon, a child process), never held by this object. Every failure names the
settings key and the file, never the content. The object masks itself in ``repr`` so a
stray log line cannot leak a secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from skimd.config import IbkrSettings
from skimd.errors import ConfigurationError
from skimd.infrastructure.brokers.ibkr.rsa_keys import KeyFile, RsaKeys, precheck

_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, repr=False)
class OAuthCredentials:
    """Everything the live-session-token exchange and request signing need."""

    consumer_key: str
    access_token: str
    access_token_secret: str  # base64 of the RSA-encrypted secret, as IBKR issues it
    signature_key: KeyFile
    encryption_key: KeyFile
    dh_prime: int
    realm: str = "limited_poa"
    dh_generator: int = 2

    def __repr__(self) -> str:
        return f"OAuthCredentials(realm={self.realm!r}, secrets=**********)"


def load_credentials(settings: IbkrSettings, keys: RsaKeys) -> OAuthCredentials:
    """Build credentials from ``[ibkr]``, the key files checked by ``keys`` (each holds an
    unencrypted PEM RSA private key); raise ConfigurationError naming what is missing or
    unusable."""
    consumer_key = _secret(settings.consumer_key, "consumer_key")
    access_token = _secret(settings.access_token, "access_token")
    access_token_secret = _secret(settings.access_token_secret, "access_token_secret")
    signature_key = _key_file(settings.signature_key_file, "signature_key_file")
    encryption_key = _key_file(settings.encryption_key_file, "encryption_key_file")
    keys.check(signature_key, encryption_key)
    return OAuthCredentials(
        consumer_key=consumer_key,
        access_token=access_token,
        access_token_secret=access_token_secret,
        signature_key=signature_key,
        encryption_key=encryption_key,
        dh_prime=parse_dh_prime(_secret(settings.dh_prime, "dh_prime")),
        realm=settings.realm,
    )


def _secret(value: SecretStr | None, key: str) -> str:
    if value is None or not value.get_secret_value():
        raise ConfigurationError(f"[ibkr] {key}: missing")
    return value.get_secret_value()


def _key_file(path: Path | None, setting: str) -> KeyFile:
    if path is None:
        raise ConfigurationError(f"[ibkr] {setting}: missing")
    key = KeyFile(setting, path)
    precheck(key)
    return key


def parse_dh_prime(text: str) -> int:
    """The consumer's DH prime from a hex string (``0x``, spaces, colons allowed) or a
    ``BEGIN DH PARAMETERS`` PEM block."""
    stripped = text.strip()
    if "BEGIN DH PARAMETERS" in stripped:
        return _prime_from_pem(stripped)
    compact = re.sub(r"[\s:]", "", stripped)
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if not compact or not _HEX.match(compact):
        raise ConfigurationError("[ibkr] dh_prime: expected a hex string or a DH PARAMETERS PEM")
    prime = int(compact, 16)
    if prime.bit_length() < 64:
        raise ConfigurationError("[ibkr] dh_prime: implausibly small prime")
    return prime


def _prime_from_pem(pem: str) -> int:
    """``p`` from PKCS#3 ``DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER, ... }``.

    Parsed by hand: cryptography's DH module is deprecated and warns on import."""
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
        pos = _der_header(der, 0, 0x30)[0]
        start, length = _der_header(der, pos, 0x02)
        prime = int.from_bytes(der[start : start + length], "big")
    except (ValueError, IndexError, binascii.Error):
        raise ConfigurationError("[ibkr] dh_prime: unreadable DH PARAMETERS PEM") from None
    if prime.bit_length() < 64:
        raise ConfigurationError("[ibkr] dh_prime: implausibly small prime")
    return prime


def _der_header(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    """(content start, content length) of the DER element at ``pos`` with ``tag``."""
    if der[pos] != tag:
        raise ValueError("unexpected DER tag")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    return pos, length
