"""The control channel's transport: a Unix socket in the runtime directory, peer
credentials from the kernel, and protocol v1 (one JSON object per line).

- :mod:`.protocol`: the wire format, shared by server and client
- :mod:`.peers`: who is at the other end (``SO_PEERCRED``) and who may talk to the daemon
- :mod:`.server`: the daemon's listener, on its event loop
- :mod:`.client`: what the commands use to reach a running daemon
- :mod:`.alert_feed`: stored alerts, as events for ``skimd tail``
"""
