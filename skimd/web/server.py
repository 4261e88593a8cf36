"""Serving the app with Hypercorn, and the rule on where it may listen.

Hypercorn rather than uvicorn: uvicorn depends on click, and with click importable every
``import httpx`` (the daemon's too) loads httpx's command-line module, about 1.2 MB of the
daemon's memory budget.

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
    """Serve ``app`` until SIGINT/SIGTERM. The socket is bound and listening here first,
    then handed to Hypercorn by its file descriptor, so ``ready`` (called once it listens;
    a caller waiting for the server reads the line it prints) is never early: a request
    sent after it waits in the listen backlog until the app has started."""
    import asyncio
    import signal
    import socket

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    host = listen.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, listen.port))
    sock.listen(128)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    if listen.tls:
        config.certfile = str(listen.tls_cert_file)
        config.keyfile = str(listen.tls_key_file)
    config.include_server_header = False
    config.accesslog = None
    config.loglevel = "WARNING"

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if ready is not None:
            ready()
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)

    try:
        asyncio.run(run())
    finally:
        sock.close()
