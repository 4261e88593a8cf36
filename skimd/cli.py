"""The ``skimd`` command line: parse arguments, hand over to a command, map errors to exits.

Each command lives in ``skimd/commands/<name>.py`` and exposes
``register(subparsers, parents)``; its sub-parser sets ``handler(args) -> int``. Commands
build what they need through :mod:`skimd.bootstrap` and nothing else.

Exit codes: 0 ok; 78 (EX_CONFIG) for any configuration problem; the exception class's
``exit_code`` for other failures. Failures print one line on stderr; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from skimd import __version__
from skimd.errors import EX_SOFTWARE, SkimdError

Handler = Callable[[argparse.Namespace], int]


def _command_modules() -> list[object]:
    from skimd.commands import broker, config_cmd, db, run, status

    return [run, status, config_cmd, db, broker]


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


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top=False)
    parser = argparse.ArgumentParser(
        prog="skimd",
        description="ASX opening-gap trading daemon with an encrypted trade journal.",
        parents=[_common_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"skimd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers, [common])  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except SkimdError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"skimd: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, never a secret-laden repr
        if args.debug:
            traceback.print_exc()
        print(f"skimd: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EX_SOFTWARE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
