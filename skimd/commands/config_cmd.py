"""``skimd config check``: load every source, validate, print the result with secrets masked.

It is the one command that looks at every secret, used or not: each is listed under
``[secrets]`` with where it comes from, whether this configuration requires it and, when
it cannot be used, the line the part needing it would stop with. A required secret that is
missing, or any secret whose source is unusable (a file open to group/other, empty, gone),
fails the check with exit 78 after the listing: ``skimd run`` would stop on it. Run it with
the unit's credentials to check what the service will see.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import SecretStr

from skimd import bootstrap
from skimd.config import Settings
from skimd.errors import ConfigurationError
from skimd.logs import MASK


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", parents=parents, help="configuration tools")
    sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        parents=parents,
        help="validate the configuration and every secret's source; print it (secrets masked)",
    )
    check.add_argument("--json", action="store_true", help="print the settings as JSON")
    check.set_defaults(handler=_check)


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret replaced by the mask (or null when unset)."""

    def clean(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return MASK
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if hasattr(value, "__fspath__"):
            return str(value)
        return value

    return clean(settings.model_dump())


def _check(args: argparse.Namespace) -> int:
    settings = bootstrap.settings_from(args.config)
    report = bootstrap.secrets_report(settings)
    data = masked(settings)
    for status in report:  # a usable secret shows as set (masked), as before
        section, key = status.setting.strip("[").split("] ")
        usable = status.source is not None and status.problem is None
        if usable and not key.endswith("_file"):  # key files show their configured path
            data[section][key] = MASK
    data["resolved"] = {"data_dir": str(bootstrap.data_dir(settings))}
    problems = [s for s in report if s.problem is not None]
    if args.json:
        data["secrets"] = [_as_dict(s, settings) for s in report]
        print(json.dumps(data, indent=2, default=str))
    else:
        if not problems:
            print(f"config ok: {settings.source}")
        else:
            print(f"config: {settings.source}: settings valid; secrets below")
        for section, values in data.items():
            if not isinstance(values, dict):
                continue
            print(f"[{section}]")
            for key, value in values.items():
                print(f"  {key} = {value!r}" if value is not None else f"  {key} = (unset)")
        print("[secrets]")
        for status in report:
            print(f"  {_describe(status, settings)}")
    if problems:
        names = ", ".join(s.setting for s in problems)
        raise ConfigurationError(
            f"{settings.source}: {len(problems)} secret(s) missing or unusable: {names} "
            "(each listed under [secrets] with how to supply it); skimd run would stop"
        )
    return 0


def _problem(status: bootstrap.SecretStatus, settings: Settings) -> str | None:
    if status.problem is None:
        return None
    return status.problem.removeprefix(f"{settings.source}: ")


def _describe(status: bootstrap.SecretStatus, settings: Settings) -> str:
    """``[section] key: required|optional, <state>`` on one line."""
    need = "required" if status.required else "optional"
    problem = _problem(status, settings)
    if problem is not None:
        missing = problem.removeprefix(f"{status.setting} is missing: ")
        state = f"MISSING: {missing}" if missing != problem else f"UNUSABLE: {problem}"
    elif status.source is None:
        state = f"not set (credential {status.credential})"
    else:
        state = f"from {status.source}"
    return f"{status.setting}: {need}, {state}"


def _as_dict(status: bootstrap.SecretStatus, settings: Settings) -> dict[str, Any]:
    return {
        "setting": status.setting,
        "credential": status.credential,
        "used_by": status.group,
        "required": status.required,
        "source": status.source,
        "problem": _problem(status, settings),
    }
