"""The port for IBKR OAuth's RSA private-key operations, and what its implementations share.

:class:`RsaKeys` is what :class:`~.auth.IbkrOAuth` and :func:`~.credentials.load_credentials`
use: ``check`` the key files, ``decrypt`` the access-token secret with the encryption key,
``sign`` the live-session-token request with the signature key. Two implementations speak
the one request/answer protocol of :mod:`.rsa_child`: :class:`~.rsa_in_process.InProcessRsaKeys`
(cryptography in this process: short-lived commands, tests) and
:class:`~.rsa_child_process.ChildProcessRsaKeys` (a short-lived child process per call: the
daemon, so cryptography is never loaded into it). The composition root chooses.

The caller names key files by path (:class:`KeyFile`); the implementation reads them. This
module checks what can be checked without reading a key (present, a private file) and
turns the protocol's answers into our errors, so both implementations fail the same way:
an unusable key file is :class:`~skimd.errors.SecretFileError` naming the setting and the
file (never its content); a key that refuses a ciphertext is :class:`KeyRefused`; a helper
that cannot be used is :class:`~skimd.errors.BrokerUnavailableError` with a secret-free
message. This module imports no cryptography.
"""

from __future__ import annotations

import base64
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from skimd.config import check_private_file
from skimd.errors import BrokerUnavailableError, SecretFileError

PROTOCOL_VERSION = 1  # the version rsa_child speaks (a test keeps the two equal)
_DETAIL = re.compile(r"^[\w ,.'()-]{0,80}$")  # an OS error text, nothing else


@dataclass(frozen=True)
class KeyFile:
    """A private key file and the ``[ibkr]`` setting that names it (for error messages)."""

    setting: str
    path: Path


class KeyRefused(Exception):
    """The key rejected the ciphertext (not one made for this key)."""


class RsaKeys(Protocol):
    def check(self, *keys: KeyFile) -> None:
        """Each file holds an unencrypted PEM RSA private key; SecretFileError naming the
        setting and the file otherwise. Synchronous: called once while building."""
        ...

    async def decrypt(self, key: KeyFile, ciphertext: bytes) -> bytes:
        """RSA PKCS#1 v1.5 decryption; KeyRefused when ``key`` rejects ``ciphertext``."""
        ...

    async def sign(self, key: KeyFile, message: bytes) -> bytes:
        """RSA-SHA256 (PKCS#1 v1.5) signature of ``message``."""
        ...


def precheck(key: KeyFile) -> None:
    """What is known without reading the key: the file exists and only its owner may read
    it. SecretFileError naming the setting and the file otherwise."""
    try:
        check_private_file(key.path)
    except SecretFileError as exc:
        raise SecretFileError(f"[ibkr] {key.setting}: {exc}") from None
    except FileNotFoundError:
        raise key_file_error(key, "key file not found") from None
    except PermissionError:
        raise key_file_error(key, "key file is not readable") from None
    except OSError as exc:
        raise key_file_error(key, f"key file is not readable ({exc.strerror})") from None


def key_file_error(key: KeyFile, what: str) -> SecretFileError:
    return SecretFileError(f"[ibkr] {key.setting}: {key.path}: {what}")


_PROBLEM_TEXT = {
    "not_found": "key file not found",
    "not_readable": "key file is not readable",
    "not_pem": "not an unencrypted PEM private key",
    "not_rsa": "not an RSA private key",
}


class RequestRsaKeys(ABC):
    """:class:`RsaKeys` over the :mod:`.rsa_child` protocol; subclasses carry the request
    (``_exchange_now`` while building, ``_exchange`` on the event loop)."""

    @abstractmethod
    def _exchange_now(self, request: dict[str, Any]) -> Any: ...

    @abstractmethod
    async def _exchange(self, request: dict[str, Any]) -> Any: ...

    def check(self, *keys: KeyFile) -> None:
        for key in keys:
            precheck(key)
        ops = [{"op": "check", "path": str(key.path)} for key in keys]
        answer = self._exchange_now(_request(ops))
        for key, result in zip(keys, _results(answer, len(ops)), strict=True):
            _value(key, result)

    async def decrypt(self, key: KeyFile, ciphertext: bytes) -> bytes:
        return await self._one(key, "decrypt", ciphertext)

    async def sign(self, key: KeyFile, message: bytes) -> bytes:
        return await self._one(key, "sign", message)

    async def _one(self, key: KeyFile, op: str, data: bytes) -> bytes:
        precheck(key)
        request = _request([{"op": op, "path": str(key.path),
                             "data": base64.b64encode(data).decode()}])
        return _value(key, _results(await self._exchange(request), 1)[0])


def _request(ops: list[dict[str, str]]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "ops": ops}


def _results(answer: Any, count: int) -> list[dict[str, Any]]:
    """The answer's results, or BrokerUnavailableError when it is not one to ``count`` ops."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if (
        not isinstance(results, list)
        or answer.get("v") != PROTOCOL_VERSION
        or len(results) != count
        or not all(isinstance(r, dict) for r in results)
    ):
        raise BrokerUnavailableError("IBKR key helper: unreadable answer")
    return results


def _value(key: KeyFile, result: dict[str, Any]) -> bytes:
    ok = result.get("ok")
    if isinstance(ok, str):
        try:
            return base64.b64decode(ok, validate=True)
        except ValueError:
            raise BrokerUnavailableError("IBKR key helper: unreadable answer") from None
    raise problem_error(key, result.get("problem"), result.get("detail", ""))


def problem_error(key: KeyFile, problem: object, detail: object = "") -> Exception:
    """The error for a protocol ``problem`` code about ``key`` (``detail``: an OS error
    text, shown only when it looks like one)."""
    if problem == "refused":
        return KeyRefused(key.setting)
    if isinstance(problem, str) and problem in _PROBLEM_TEXT:
        text = _PROBLEM_TEXT[problem]
        if problem == "not_readable" and isinstance(detail, str) and detail:
            text += f" ({detail})" if _DETAIL.match(detail) else ""
        return key_file_error(key, text)
    return BrokerUnavailableError(
        f"IBKR key helper: request refused ({problem if problem == 'bad_request' else '?'})"
    )
