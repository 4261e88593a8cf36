"""The one TLS verification context every HTTP client of a skimd process shares.

httpx builds a context per client and loads certifi's whole CA bundle into it (≈2.8 MB of
parsed certificates each, measured with httpx 0.28). :func:`verify_context` is built once
by the composition root and given to every ``httpx.AsyncClient`` as ``verify=``:

1. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, as httpx itself honours them;
2. else the system's hashed CA directory (``openssl rehash`` / ``c_rehash`` layout, e.g.
   Debian's ``/etc/ssl/certs``) when it holds hashed entries: OpenSSL loads a CA from it only
   when a chain needs it, so the context costs next to nothing;
3. else certifi's bundle, as httpx would.

Verification is the same in every case (``ssl.create_default_context``: certificate and
host name checked, the interpreter's minimum TLS version).
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path

_HASHED = re.compile(r"^[0-9a-f]{8}\.\d+$")


def verify_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A client context verifying servers against the CAs chosen as the module says."""
    env = os.environ if environ is None else environ
    if env.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
    if env.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=env["SSL_CERT_DIR"])
    directory = system_ca_dir()
    if directory is not None:
        return ssl.create_default_context(capath=str(directory))
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def system_ca_dir(candidates: Iterable[str | None] | None = None) -> Path | None:
    """The first of ``candidates`` (default: OpenSSL's default CA directories) that holds
    hashed certificate entries (``1a2b3c4d.0``), else None."""
    if candidates is None:
        paths = ssl.get_default_verify_paths()
        candidates = (paths.capath, paths.openssl_capath)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            with os.scandir(candidate) as entries:
                if any(_HASHED.match(entry.name) for entry in entries):
                    return Path(candidate)
        except OSError:
            continue
    return None
