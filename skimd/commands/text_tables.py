"""Plain-text tables for the commands: columns padded to their widest cell, numbers
right-aligned, times in the market zone to the second, an optional totals row under a
rule. JSON output never goes through here (it keeps exact values and UTC times)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

NUMERIC = (int, float, Decimal)


def local_time(value: str | datetime | None, zone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``zone`` from an aware datetime or its ISO text."""
    if value is None:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def render_table(
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    *,
    numeric: Sequence[str] = (),
    totals: Sequence[Any] | None = None,
) -> str:
    """The table as text (no trailing newline). Columns named in ``numeric`` are
    right-aligned; ``totals`` (one cell per column, None for blank) is set under a rule."""
    body = [[_cell(v) for v in row] for row in rows]
    foot = None if totals is None else [_cell(v) for v in totals]
    every = body + ([foot] if foot is not None else [])
    widths = [max([len(c)] + [len(r[i]) for r in every]) for i, c in enumerate(columns)]
    right = [c in numeric for c in columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w)
            for v, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns)] + [line(r) for r in body]
    if foot is not None:
        out.append("  ".join("-" * w for w in widths))
        out.append(line(foot))
    return "\n".join(out)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
