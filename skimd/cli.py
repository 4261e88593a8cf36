"""The ``skimd`` command line: parse arguments, hand over to a command, map errors to exits.

Each command lives in ``skimd/commands/<name>.py`` and exposes
``register(subparsers, parents)``; its sub-parser sets ``handler(args) -> int``. Commands
build what they need through :mod:`skimd.bootstrap` and nothing else.

Exit codes: 0 ok; 78 (EX_CONFIG) for any configuration problem; the exception class's
``exit_code`` for other failures. Failures print one line on stderr; ``--debug`` adds the
traceback.

Everything printed for a failure (the line and the traceback) is scrubbed first with the
same :class:`~skimd.logs.SecretRedactor` logging uses: the one logging was configured with
(it also knows secrets added at run time, such as a broker session token), plus one built
from the settings' secrets, plus ``key=value`` / ``Authorization:`` text and Discord
webhook URLs by shape. Secrets are looked up only after a failure, so a command that
succeeds pays nothing for it.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from skimd import __version__
from skimd.errors import EX_SOFTWARE, SkimdError

if TYPE_CHECKING:
    from skimd.logs import SecretRedactor

Handler = Callable[[argparse.Namespace], int]
Scrub = Callable[[str], str]

_SECRET_WORDS = "|".join(
    ("passphrase", "password", "passwd", "secret", "token", "api_?key", "private_key",
     "webhook", "credential", "consumer_key", "signature")
)
# ``token=abc`` (query strings, key=value dumps) and ``Authorization: Bearer abc``.
_KEY_VALUE = re.compile(rf"(?i)\b([\w.-]*(?:{_SECRET_WORDS})[\w.-]*=)[^\s&;,'\"]+")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?:(?:bearer|basic|oauth)\s+)?\S+")


COMMAND_MODULES = {
    "run": "run",
    "demo": "demo",
    "backtest": "backtest",
    "status": "status",
    "scan": "scan",
    "guard": "guard",
    "jobs": "control",
    "run-job": "control",
    "tail": "control",
    "flatten": "control",
    "pause": "control",
    "resume": "control",
    "config": "config_cmd",
    "db": "db",
    "broker": "broker",
    "journal": "journal",
    "data": "data",
    "ibkr": "ibkr",
    "web": "web",
}
"""Which module of :mod:`skimd.commands` registers each command (a test checks this against
what the modules register). A command line naming a command imports only its module, so
the daemon (``skimd run``) does not carry the journal, web and admin commands (about
1.5 MB of its memory budget); with no command, or an unknown one, every module is loaded
for the help and the error message."""


def _command_modules(argv: Sequence[str] | None = None) -> list[object]:
    import importlib

    wanted = COMMAND_MODULES.get(_named_command(argv or ()) or "")
    names = [wanted] if wanted else list(dict.fromkeys(COMMAND_MODULES.values()))
    return [importlib.import_module(f"skimd.commands.{name}") for name in names]


def _named_command(argv: Sequence[str]) -> str | None:
    """The first word of ``argv`` that is neither an option nor ``--config``'s value."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """--config/--debug, accepted before or after the command.

    Sub-commands use SUPPRESS defaults so they do not overwrite a value given before the
    command name (argparse copies sub-parser defaults over the namespace).
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="config file (default: $SKIMD_CONFIG, else config/skimd.toml)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show tracebacks for failures",
    )
    return common


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser; given the command line, only the named command's module
    is loaded (:data:`COMMAND_MODULES`)."""
    common = _common_options(top=False)
    parser = argparse.ArgumentParser(
        prog="skimd",
        description="ASX opening-gap trading daemon with an encrypted trade journal.",
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"skimd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(argv):
        module.register(subparsers, [common])  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return dispatch(handler, args)


def dispatch(handler: Handler, args: argparse.Namespace, stderr: TextIO | None = None) -> int:
    """Run ``handler``; map a failure to its exit code and one redacted line on stderr."""
    err = sys.stderr if stderr is None else stderr
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, never a secret-laden repr
        scrub = error_scrubber(getattr(args, "config", None))
        if getattr(args, "debug", False):
            print(scrub(traceback.format_exc()), end="", file=err)
        if isinstance(exc, SkimdError):
            print(scrub(f"skimd: {exc}"), file=err)
            return exc.exit_code
        print(scrub(f"skimd: unexpected {type(exc).__name__}: {exc}"), file=err)
        return EX_SOFTWARE


def error_scrubber(config_path: str | None) -> Scrub:
    """A text scrubber for failure output (see the module docstring).

    Never raises: settings that cannot be loaded (often the very failure being reported)
    leave the shape-based rules and the logging redactor, if any, in force.
    """
    from skimd.logs import MASK, SecretRedactor

    known: list[str] = []
    try:
        from skimd.config import load_settings

        known = load_settings(config_path).secret_values()
    except Exception:  # noqa: S110 - best effort: the shape rules below still apply
        pass
    redactor = SecretRedactor(known)
    active = _logging_redactor()
    if active is not None:
        redactor.absorb(active)  # run-time secrets (a live session token) as well

    def scrub(text: str) -> str:
        text = redactor.scrub(text)
        text = _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
        return _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)

    return scrub


def _logging_redactor() -> SecretRedactor | None:
    """The SecretRedactor structlog is configured with in this process, if any."""
    import structlog

    from skimd.logs import SecretRedactor

    for processor in structlog.get_config().get("processors", ()):
        if isinstance(processor, SecretRedactor):
            return processor
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
