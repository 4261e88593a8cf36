"""The unit runs Python with ``PYTHONOPTIMIZE=2`` (docstrings and asserts dropped, for
memory): every skimd module must import and the CLI must work that way, and the process
tests must run the daemon that way too."""

from __future__ import annotations

import subprocess
import sys

from skimd.config import PROJECT_ROOT
from tests.fakes.processes import base_env, unit_python_env
from tests.integration.deploy.unit_file import values

IMPORT_ALL = """
import importlib, pkgutil, sys, skimd
assert sys.flags.optimize == 2 or sys.exit("not optimized")
failed = []
for info in pkgutil.walk_packages(skimd.__path__, "skimd."):
    if info.name.endswith("__main__"):  # runs the CLI; the CLI test below covers it
        continue
    if info.name.endswith("migrations.env"):  # Alembic's script: runs only inside Alembic
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
"""


def test_the_unit_drops_docstrings_and_process_tests_run_the_same_way() -> None:
    assert "PYTHONOPTIMIZE=2" in values("Environment")
    assert unit_python_env() == {"PYTHONOPTIMIZE": "2"}
    assert base_env()["PYTHONOPTIMIZE"] == "2"


def test_every_skimd_module_imports_without_docstrings() -> None:
    """A module that formats its own ``__doc__`` at import (``__doc__.splitlines()`` for a
    help text) would fail here: under -OO it is None."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], env=base_env(), cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_cli_helps_and_checks_the_shipped_config_without_docstrings() -> None:
    for args in (["--help"], ["journal", "--help"], ["config", "check", "--config",
                                                    str(PROJECT_ROOT / "config" / "skimd.toml")]):
        done = subprocess.run(
            [sys.executable, "-m", "skimd", *args], env=base_env(), cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, (args, done.stderr)
        assert done.stdout.strip(), args
