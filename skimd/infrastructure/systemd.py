"""sd_notify: the few lines of datagram code systemd's Type=notify needs.

When ``NOTIFY_SOCKET`` is set (systemd sets it), each message is one datagram of
``KEY=VALUE`` lines to that AF_UNIX socket; a leading ``@`` means the abstract namespace.
Without the variable every call is a no-op, so the daemon runs the same in a terminal.
Failures to notify are logged by the caller and never stop the daemon.
"""

from __future__ import annotations

import socket


class SdNotifier:
    def __init__(self, socket_path: str | None) -> None:
        self._address: str | None = None
        if socket_path:
            self._address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; False (never an exception) when it could not go."""
        if self._address is None:
            return False
        payload = "\n".join(lines).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str) -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")


def watchdog_interval_s(watchdog_usec: str | None) -> float | None:
    """Half of systemd's ``WATCHDOG_USEC`` (ping twice per period), or None when unset."""
    if not watchdog_usec:
        return None
    try:
        usec = int(watchdog_usec)
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None
