"""IBKR OAuth's RSA key operations in this process (cryptography loaded here).

For short-lived commands and tests: :class:`InProcessRsaKeys` answers the
:mod:`.rsa_child` protocol by calling its handler directly, so it behaves exactly as the
child-process implementation the daemon uses. :func:`load_rsa_key` and
:func:`decrypt_prepend` serve ``skimd ibkr credentials``, which inspects the key material
it encrypts.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from skimd.errors import BrokerAuthError, ConfigurationError
from skimd.infrastructure.brokers.ibkr import rsa_child
from skimd.infrastructure.brokers.ibkr.rsa_keys import (
    KeyFile,
    RequestRsaKeys,
    precheck,
    problem_error,
)


class InProcessRsaKeys(RequestRsaKeys):
    def __repr__(self) -> str:
        return "InProcessRsaKeys()"

    def _exchange_now(self, request: dict[str, Any]) -> Any:
        return rsa_child.handle(request)

    async def _exchange(self, request: dict[str, Any]) -> Any:
        return rsa_child.handle(request)


def load_rsa_key(path: Path | None, setting: str) -> rsa.RSAPrivateKey:
    """Read an unencrypted PEM RSA private key; errors name the setting and file only."""
    if path is None:
        raise ConfigurationError(f"[ibkr] {setting}: missing")
    key = KeyFile(setting, path)
    precheck(key)
    try:
        return rsa_child.read_private_key(str(path))
    except rsa_child.KeyProblem as problem:
        raise problem_error(key, problem.code, problem.detail) from None


def decrypt_prepend(encryption_key: rsa.RSAPrivateKey, access_token_secret: str) -> str:
    """The access-token secret decrypted (RSA PKCS#1 v1.5), hex-encoded."""
    try:
        return rsa_child.decrypt(encryption_key, base64.b64decode(access_token_secret)).hex()
    except (rsa_child.KeyProblem, ValueError):
        raise BrokerAuthError(
            "[ibkr] access_token_secret: cannot be decrypted with the encryption key"
        ) from None
