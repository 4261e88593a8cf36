"""The command table of ``skimd.cli``: it names every command each module registers, and a
command line naming a command loads only that command's module (checked in a fresh
interpreter: this process has imported them all)."""

from __future__ import annotations

import argparse
import ast
import importlib
import subprocess
import sys
import textwrap

import pytest

from skimd.cli import COMMAND_MODULES, _named_command, build_parser
from skimd.config import PROJECT_ROOT


def registered(module_name: str) -> set[str]:
    module = importlib.import_module(f"skimd.commands.{module_name}")
    subparsers = argparse.ArgumentParser().add_subparsers()
    module.register(subparsers, [argparse.ArgumentParser(add_help=False)])
    return set(subparsers.choices)


def test_the_table_names_what_each_module_registers() -> None:
    for name in set(COMMAND_MODULES.values()):
        assert registered(name) == {c for c, m in COMMAND_MODULES.items() if m == name}
    full = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(full) == set(COMMAND_MODULES)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["run"], "run"),
        (["--config", "run", "status"], "status"),  # "run" here is --config's value
        (["--debug", "--config=x.toml", "journal", "stats"], "journal"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_named_command_skips_options_and_the_config_value(
    argv: list[str], command: str | None
) -> None:
    assert _named_command(argv) == command


def test_skimd_run_loads_no_other_command_module() -> None:
    script = textwrap.dedent(
        """
        import sys
        from skimd.cli import build_parser
        build_parser(["--config", "x.toml", "run", "--help-is-not-parsed-here"])
        print(sorted(m for m in sys.modules if m.startswith("skimd.commands.")))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(done.stdout))
    assert loaded == {"skimd.commands.run"}  # not even `demo`, the simulated-clock replay
