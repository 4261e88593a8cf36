"""``skimd config check``: load every source, validate, print the result with secrets masked."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import SecretStr

from skimd import bootstrap
from skimd.config import Settings
from skimd.logs import MASK


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", parents=parents, help="configuration tools")
    sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", parents=parents, help="validate the configuration and print it (secrets masked)"
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
    data = masked(settings)
    data["resolved"] = {"data_dir": str(bootstrap.data_dir(settings))}
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"config ok: {settings.source}")
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        print(f"[{section}]")
        for key, value in values.items():
            print(f"  {key} = {value!r}" if value is not None else f"  {key} = (unset)")
    return 0
