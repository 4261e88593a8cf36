"""The RSA private-key work of IBKR OAuth, and the short-lived process that does it.

Run as a script (``python -I .../rsa_child.py``, see :mod:`.rsa_child_process`, which
starts it) it reads one JSON request on stdin, does it and writes one JSON answer on
stdout, then exits. The key files are read here, by path: the
caller names them, never sends their content, and nothing secret travels in argv or the
environment. This is the only module of skimd that uses ``cryptography`` on the daemon's
behalf: keeping it in a child keeps cryptography's native module (≈7 MB resident) out of
the long-running daemon, which needs a private key only when it derives a live session
token (about once a day).

Request ``{"v": 1, "ops": [op, ...]}``; each op is ``{"op": "check", "path": p}`` (the file
holds an unencrypted PEM RSA private key), ``{"op": "decrypt", "path": p, "data": b64}``
(PKCS#1 v1.5) or ``{"op": "sign", "path": p, "data": b64}`` (RSA-SHA256, PKCS#1 v1.5).
Answer ``{"v": 1, "results": [result, ...]}`` in the same order, each ``{"ok": b64}`` (empty
for check) or ``{"problem": code, "detail": text}`` with a code of :data:`PROBLEMS`; the
detail is an OS error text at most, never key material. Imports stay minimal (stdlib and
cryptography only, no skimd module: the script must run wherever skimd's interpreter
does, and start in a few tens of milliseconds).
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

VERSION = 1
PROBLEMS = ("not_found", "not_readable", "not_pem", "not_rsa", "refused", "bad_request")


class KeyProblem(Exception):
    """A key file or operation that cannot be used; ``code`` is one of :data:`PROBLEMS`."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def load_private_key(data: bytes) -> rsa.RSAPrivateKey:
    """An unencrypted PEM RSA private key; KeyProblem ``not_pem`` / ``not_rsa`` otherwise."""
    try:
        loaded = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyProblem("not_pem") from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise KeyProblem("not_rsa")
    return loaded


def read_private_key(path: str) -> rsa.RSAPrivateKey:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise KeyProblem("not_found") from None
    except PermissionError:
        raise KeyProblem("not_readable") from None
    except OSError as exc:
        raise KeyProblem("not_readable", exc.strerror or "") from None
    return load_private_key(data)


def decrypt(key: rsa.RSAPrivateKey, ciphertext: bytes) -> bytes:
    """PKCS#1 v1.5 decryption; KeyProblem ``refused`` when the key rejects the ciphertext."""
    try:
        return key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:
        raise KeyProblem("refused") from None


def sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """RSA-SHA256 (PKCS#1 v1.5) signature of ``message``."""
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def handle(request: Any) -> dict[str, Any]:
    """The answer to one request (never raises for a bad key or a malformed op)."""
    ops = request.get("ops") if isinstance(request, dict) else None
    if not isinstance(ops, list) or request.get("v") != VERSION:
        return {"v": VERSION, "results": [], "problem": "bad_request"}
    return {"v": VERSION, "results": [_one(op) for op in ops]}


def _one(op: Any) -> dict[str, str]:
    try:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise KeyProblem("bad_request")
        key = read_private_key(op["path"])
        if op.get("op") == "check":
            return {"ok": ""}
        data = base64.b64decode(str(op.get("data", "")), validate=True)
        if op.get("op") == "decrypt":
            return {"ok": base64.b64encode(decrypt(key, data)).decode()}
        if op.get("op") == "sign":
            return {"ok": base64.b64encode(sign(key, data)).decode()}
        raise KeyProblem("bad_request")
    except KeyProblem as problem:
        return {"problem": problem.code, "detail": problem.detail}
    except ValueError:  # undecodable base64
        return {"problem": "bad_request", "detail": ""}


def main() -> int:
    try:
        request = json.loads(sys.stdin.buffer.read())
    except ValueError:
        request = None
    sys.stdout.write(json.dumps(handle(request)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
