"""Serving the app with uvicorn, and the rule on where it may listen.

A loopback address (127.0.0.0/8, ::1, ``localhost``) is served over plain HTTP: reach it
from elsewhere through an SSH tunnel. Any other address needs both TLS files, or
``skimd web`` refuses to start (:func:`check_bind`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skimd.errors import ConfigurationError


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_bind(listen: Listen, source: str) -> None:
    """Raise ConfigurationError (one line naming the key) for a non-loopback address
    without TLS, or for one TLS file without the other, or a TLS file that is missing."""
    if (listen.tls_cert_file is None) != (listen.tls_key_file is None):
        missing = "tls_key_file" if listen.tls_key_file is None else "tls_cert_file"
        raise ConfigurationError(f"{source}: [web] {missing}: missing (TLS needs both files)")
    for key, path in (("tls_cert_file", listen.tls_cert_file),
                      ("tls_key_file", listen.tls_key_file)):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"{source}: [web] {key}: {path} not found")
    if not listen.tls and not is_loopback(listen.host):
        raise ConfigurationError(
            f"{source}: [web] host: {listen.host!r} is not a loopback address; set "
            "[web] tls_cert_file and tls_key_file to serve it, or use an SSH tunnel"
        )


def serve(app: Any, listen: Listen, ready: Callable[[], None] | None = None) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (uvicorn's handlers); ``ready`` is called once
    the socket listens (a caller waiting for the server reads the line it prints)."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and ready is not None:
                ready()

    config = uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        ssl_certfile=None if listen.tls_cert_file is None else str(listen.tls_cert_file),
        ssl_keyfile=None if listen.tls_key_file is None else str(listen.tls_key_file),
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        access_log=False,
    )
    _Server(config).run()
