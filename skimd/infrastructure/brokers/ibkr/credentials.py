"""The OAuth 1.0a material for IBKR, loaded once from settings and key files.

Key files are paths (possibly systemd credential paths under ``$CREDENTIALS_DIRECTORY``);
every failure names the settings key and the file, never the content. The object masks
itself in ``repr`` so a stray log line cannot leak a key.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from skimd.config import IbkrSettings, check_private_file
from skimd.errors import ConfigurationError, SecretFileError

_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, repr=False)
class OAuthCredentials:
    """Everything the live-session-token exchange and request signing need."""

    consumer_key: str
    access_token: str
    access_token_secret: str  # base64 of the RSA-encrypted secret, as IBKR issues it
    signature_key: rsa.RSAPrivateKey
    encryption_key: rsa.RSAPrivateKey
    dh_prime: int
    realm: str = "limited_poa"
    dh_generator: int = 2

    def __repr__(self) -> str:
        return f"OAuthCredentials(realm={self.realm!r}, secrets=**********)"


def load_credentials(settings: IbkrSettings) -> OAuthCredentials:
    """Build credentials from ``[ibkr]``; raise ConfigurationError naming what is missing."""
    return OAuthCredentials(
        consumer_key=_secret(settings.consumer_key, "consumer_key"),
        access_token=_secret(settings.access_token, "access_token"),
        access_token_secret=_secret(settings.access_token_secret, "access_token_secret"),
        signature_key=load_rsa_key(settings.signature_key_file, "signature_key_file"),
        encryption_key=load_rsa_key(settings.encryption_key_file, "encryption_key_file"),
        dh_prime=parse_dh_prime(_secret(settings.dh_prime, "dh_prime")),
        realm=settings.realm,
    )


def _secret(value: SecretStr | None, key: str) -> str:
    if value is None or not value.get_secret_value():
        raise ConfigurationError(f"[ibkr] {key}: missing")
    return value.get_secret_value()


def load_rsa_key(path: Path | None, key: str) -> rsa.RSAPrivateKey:
    """Read an unencrypted PEM RSA private key; errors name the key and file only."""
    if path is None:
        raise ConfigurationError(f"[ibkr] {key}: missing")
    try:
        check_private_file(path)
        data = path.read_bytes()
    except SecretFileError as exc:
        raise SecretFileError(f"[ibkr] {key}: {exc}") from None
    except FileNotFoundError:
        raise SecretFileError(f"[ibkr] {key}: {path}: key file not found") from None
    except PermissionError:
        raise SecretFileError(f"[ibkr] {key}: {path}: key file is not readable") from None
    except OSError as exc:
        raise SecretFileError(
            f"[ibkr] {key}: {path}: key file is not readable ({exc.strerror})"
        ) from None
    try:
        loaded = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SecretFileError(
            f"[ibkr] {key}: {path}: not an unencrypted PEM private key"
        ) from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise SecretFileError(f"[ibkr] {key}: {path}: not an RSA private key")
    return loaded


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
