"""The digests' bulk data as text every channel shares: fixed-width tables for monospaced
display (console, Discord code blocks, plain-text fallbacks) and the reconciliation CSV
(the attachment that carries every row).

Channels choose which rows to show and how to frame them; the columns, their widths and
the CSV's cells are decided here once.
"""

from __future__ import annotations

from skimd.domain.alerts import CandidateDigest, ReconciliationDigest
from skimd.domain.formatting import fmt_pct, fmt_price

RECONCILIATION_CSV_HEADER = ("ticker", "db_qty", "broker_qty", "executions_qty", "status")


def candidate_table(digest: CandidateDigest) -> tuple[str, ...]:
    """Fixed-width rows (header first), one per candidate in the digest's order."""
    rows = [f"{'Symbol':<8}{'Src':<5}{'Gap':>9}{'Open':>11}{'Prior':>11}  Headline"]
    for c in digest.candidates:
        row = (
            f"{c.symbol:<8}{c.source.value:<5}{fmt_pct(c.gap_pct):>9}"
            f"{fmt_price(c.open_price):>11}{fmt_price(c.prev_close):>11}  {c.headline or ''}"
        )
        rows.append(row.rstrip())
    return tuple(rows)


def reconciliation_table(
    digest: ReconciliationDigest, *, mismatches_only: bool = False
) -> tuple[str, ...]:
    """Fixed-width rows (header first): mismatches first, then by ticker."""
    chosen = digest.mismatches if mismatches_only else digest.rows
    ordered = sorted(chosen, key=lambda r: (r.ok, r.ticker))
    out = [f"{'Ticker':<8}{'DB':>9}{'Broker':>9}{'Execs':>9}  Status"]
    out.extend(
        f"{r.ticker:<8}{r.db_qty:>9}{r.broker_qty:>9}{r.executions_qty:>9}  "
        f"{'ok' if r.ok else r.status.value.upper()}"
        for r in ordered
    )
    return tuple(out)


def reconciliation_csv_name(digest: ReconciliationDigest) -> str:
    return f"reconciliation-{digest.trading_day.isoformat()}.csv"


def reconciliation_csv(digest: ReconciliationDigest) -> str:
    """Every row in the digest's order under a header line; ``\\n`` line ends. Tickers are
    ASX codes and the rest numbers or ``ok``/``mismatch``, so nothing needs quoting; a text
    cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) gets a
    leading apostrophe all the same."""
    lines = [",".join(RECONCILIATION_CSV_HEADER)]
    for r in digest.rows:
        cells = (
            _csv_cell(r.ticker),
            str(r.db_qty),
            str(r.broker_qty),
            str(r.executions_qty),
            r.status.value,
        )
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def reconciliation_csv_file(digest: ReconciliationDigest) -> tuple[str, bytes]:
    """``(filename, UTF-8 bytes)`` of the CSV, for channels that attach files."""
    return reconciliation_csv_name(digest), reconciliation_csv(digest).encode("utf-8")


def _csv_cell(text: str) -> str:
    if text[:1] in ("=", "+", "@", "-", "\t", "\r"):
        text = "'" + text
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text
