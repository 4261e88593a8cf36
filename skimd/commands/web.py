"""``skimd web [--read-only]`` and ``skimd web set-password``: the journal and the desk in
a browser (:mod:`skimd.web`), as a process of its own beside the daemon.

``skimd web`` serves on ``[web] host``:``port`` (127.0.0.1:8750 by default) until
SIGINT/SIGTERM; it needs the database key (it reads the journal) and a password set. A
non-loopback host without ``[web] tls_cert_file``/``tls_key_file`` is refused (exit 78).

``set-password`` reads the new password from the terminal (twice, not echoed) or, when
stdin is not a terminal, from its first line; it stores only its Argon2id hash
(``[web] password_file``, default ``<data_dir>/web-password``, mode 0600). It needs no
database key. Sessions already open stay open until ``skimd web`` restarts.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import sys
from typing import Any

from skimd import bootstrap
from skimd.errors import ConfigurationError, InvalidInputError

# The import names of the `web` extra's packages (pyproject.toml).
WEB_EXTRA = ("starlette", "hypercorn", "jinja2", "itsdangerous", "multipart")


def require_web_extra(packages: tuple[str, ...] = WEB_EXTRA) -> None:
    """One line naming what is missing when the venv lacks the ``web`` extra (the daemon's
    venv does not carry it: README "Web view")."""
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"skimd web needs the 'web' extra, missing here: {', '.join(missing)} "
            "(pip install '<the skimd source>[web]' into this venv)"
        )


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    web = subparsers.add_parser(
        "web", parents=parents, help="serve the journal and the desk in a browser"
    )
    web.add_argument(
        "--read-only", action="store_true", help="no desk actions (as [web] read_only = true)"
    )
    web.set_defaults(handler=_serve)
    actions = web.add_subparsers(dest="web_action", metavar="ACTION")
    password = actions.add_parser(
        "set-password", parents=parents, help="set the login password (stdin or terminal)"
    )
    password.set_defaults(handler=_set_password)


def _serve(args: argparse.Namespace) -> int:
    require_web_extra()
    settings = bootstrap.settings_from(args.config)
    if args.read_only:
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"read_only": True})}
        )
    bootstrap.setup_logging(settings)
    listen = bootstrap.web_listen(settings)  # refuses before anything is opened
    scheme = "https" if listen.tls else "http"
    mode = " (read-only)" if settings.web.read_only else ""

    def ready() -> None:  # once listening: the line a supervisor or a test waits for
        print(f"skimd web on {scheme}://{listen.host}:{listen.port}/{mode}",
              file=sys.stderr, flush=True)

    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        bootstrap.serve_web(app, listen, ready)
    return 0


def _set_password(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    store = bootstrap.web_password_file(settings)
    if sys.stdin.isatty():
        first = getpass.getpass("new skimd web password: ")
        if getpass.getpass("again: ") != first:
            raise InvalidInputError("the two passwords differ; nothing was changed")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    store.set(first)
    print(f"skimd web: password hash written to {store.path} (0600)")
    return 0
