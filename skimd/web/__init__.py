"""``skimd web``: the journal and the trading desk in a browser, as a process of its own
(the daemon stays lean).

A Starlette ASGI app served by Hypercorn, pages from Jinja2 templates (autoescaped). It reads
through the same services ``skimd status`` and ``skimd journal stats`` use and changes
nothing itself: the desk's buttons (kill switch, flatten, pause) go to the running daemon
over its control socket. :mod:`skimd.bootstrap` builds it from ``[web]`` settings
(:class:`~skimd.web.desk.Desk` over the App's parts); nothing here imports the
infrastructure or the composition root.
"""
