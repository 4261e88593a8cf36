"""``skimd backtest --grid``: one backtest per combination of strategy settings.

``--grid strategy.min_gap_pct=3,4,6 --grid strategy.range_minutes=5,15`` makes 3 x 2 = 6
runs, each the ``--set`` overrides plus its own values (so each writes its own run
directory, named by its overrides). They run in parallel processes, as many as there are
cores (and no more than there are runs); each process replays its days alone. The
comparison table is sorted by expectancy per round trip (best first; a run without a
closed round trip last), and the same rows go to ``grid.json`` in
``<data_dir>/backtests/grid-<hash>/``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from skimd import bootstrap
from skimd.commands.backtest_run import BacktestSpec, parse_override, run_backtest, with_overrides
from skimd.commands.text_tables import render_table
from skimd.config import Settings
from skimd.errors import InvalidInputError
from skimd.files import private_dir, write_atomic


def combinations(grid: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of the ``strategy.KEY=V1,V2`` axes, as ``strategy.KEY=V`` tuples
    in the order given (the first axis varies slowest)."""
    axes: list[list[str]] = []
    seen: set[str] = set()
    for text in grid:
        key, raw = parse_override(text)
        if key in seen:
            raise InvalidInputError(f"--grid {text!r}: strategy.{key} is swept twice")
        seen.add(key)
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise InvalidInputError(f"--grid {text!r}: no values")
        axes.append([f"strategy.{key}={v}" for v in values])
    return list(itertools.product(*axes))


def run_grid(
    config: str | None, settings: Settings, base: BacktestSpec, grid: Sequence[str]
) -> dict[str, Any]:
    """Run every combination (each checked before any starts) and write ``grid.json``;
    the grid's JSON: its runs sorted by expectancy."""
    specs = [
        replace(base, overrides=(*base.overrides, *combo)) for combo in combinations(grid)
    ]
    for spec in specs:  # a bad value stops the grid before anything runs
        with_overrides(settings, spec.overrides)
    workers = max(1, min(len(specs), os.cpu_count() or 1))
    if workers == 1:
        results = [_run_one(config, spec) for spec in specs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_run_one, [config] * len(specs), specs))
    rows = sorted(
        (_grid_row(spec, result, len(base.overrides)) for spec, result in zip(specs, results,
                                                                               strict=True)),
        key=_by_expectancy,
    )
    digest = hashlib.sha256("\n".join([base.run_id, *grid]).encode()).hexdigest()[:8]
    folder = private_dir(bootstrap.data_dir(settings) / "backtests" / f"grid-{digest}")
    data = {
        "from": base.date_from.isoformat(),
        "to": base.date_to.isoformat(),
        "seed": base.seed,
        "overrides": list(base.overrides),
        "grid": list(grid),
        "runs": rows,
        "file": str(folder / "grid.json"),
    }
    write_atomic(folder / "grid.json", (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    return data


def _run_one(config: str | None, spec: BacktestSpec) -> dict[str, Any]:
    """One combination, in a worker process (settings are loaded there again)."""
    settings = bootstrap.settings_from(config)
    return run_backtest(settings, spec).as_json()


def _grid_row(spec: BacktestSpec, result: dict[str, Any], skip: int) -> dict[str, Any]:
    totals = result["totals"]
    return {
        "settings": {o.partition("=")[0]: o.partition("=")[2] for o in spec.overrides[skip:]},
        "run_id": result["run_id"],
        "round_trips": totals["round_trips"],
        "win_rate": totals["win_rate"],
        "net_pnl": totals["net_pnl"],
        "expectancy": totals["expectancy"],
        "expectancy_r": totals["expectancy_r"],
        "profit_factor": totals["profit_factor"],
        "max_drawdown": totals["max_drawdown"],
        "exposure": totals["exposure"],
        "fees_paid": totals["fees_paid"],
        "journal": result["journal"],
    }


def _by_expectancy(row: dict[str, Any]) -> tuple[int, Decimal]:
    value = row["expectancy"]
    return (1, Decimal(0)) if value is None else (0, -Decimal(value))


def print_grid(data: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, sort_keys=True))
        return
    runs = data["runs"]
    keys = list(runs[0]["settings"]) if runs else []
    columns = (*[k.removeprefix("strategy.") for k in keys], "trips", "win%", "net", "exp $",
               "exp R", "PF", "max DD", "exposure", "run")
    table = [
        (*[r["settings"][k] for k in keys], r["round_trips"], _pct(r["win_rate"]),
         _num(r["net_pnl"]), _num(r["expectancy"]), _num(r["expectancy_r"]),
         _num(r["profit_factor"]), _num(r["max_drawdown"]), _pct(r["exposure"]), r["run_id"])
        for r in runs
    ]
    print(f"skimd backtest grid {data['from']} to {data['to']}, seed {data['seed']}: "
          f"{len(runs)} runs, best expectancy first")
    print(render_table(table, columns, numeric=columns[len(keys):-1]))
    print(f"grid {Path(data['file'])}")


def _num(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f}"


def _pct(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.0f}%"
