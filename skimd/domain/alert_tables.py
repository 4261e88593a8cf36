"""The digests' bulk data as text every channel shares: fixed-width tables for monospaced
display and the reconciliation CSV (the attachment that carries every row).

Two widths: the wide tables (:func:`candidate_table`, :func:`reconciliation_table`) are for
a terminal (the console notifier); the phone tables (:func:`candidate_phone_tables`,
:func:`reconciliation_phone_table`) keep every line within :data:`PHONE_WIDTH` display
columns, so a Discord code block reads on a phone without scrolling sideways.

Channels choose which rows to show and how to frame them; the columns, their widths and
the CSV's cells are decided here once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from skimd.domain.alerts import CandidateDigest, CandidateFound, ReconciliationDigest
from skimd.domain.formatting import fmt_pct, fmt_price

RECONCILIATION_CSV_HEADER = ("ticker", "db_qty", "broker_qty", "executions_qty", "status")

PHONE_WIDTH = 40
"""Display columns a monospaced line may take to fit a phone screen."""

HEADLINE_LINES = 2
"""Lines a news headline may wrap onto in the phone digest before it is cut with "…"
(the whole headline is in the candidate's own alert and in the journal)."""

_TICKER = 6  # ASX codes are 3-6 characters; a longer one widens only its own row


@dataclass(frozen=True, slots=True)
class PhoneTable:
    """A table for a phone: ``caption`` names it (may be empty), ``header`` heads every
    block a channel splits it into (may be empty), each of ``rows`` is one item that may
    span lines (a channel keeps it whole). No line is wider than :data:`PHONE_WIDTH`."""

    caption: str
    header: str
    rows: tuple[str, ...]


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


def candidate_phone_tables(digest: CandidateDigest) -> tuple[PhoneTable, ...]:
    """The digest's candidates as phone tables, each in the digest's order: those with a gap
    as ticker/gap/open columns, the others (news) as the ticker and its headline wrapped to
    the width. A table with no rows is left out."""
    gaps = [c for c in digest.candidates if c.gap_pct is not None]
    news = [c for c in digest.candidates if c.gap_pct is None]
    tables = []
    if gaps:
        header = f"{'Ticker':<{_TICKER}} {'Gap':>9} {'Open':>10}"
        rows = tuple(
            f"{c.symbol:<{_TICKER}} {fmt_pct(c.gap_pct):>9} {fmt_price(c.open_price):>10}"
            for c in gaps
        )
        tables.append(PhoneTable("Gaps", header, rows))
    if news:
        tables.append(PhoneTable("News", "", tuple(_news_row(c) for c in news)))
    return tuple(tables)


def _news_row(c: CandidateFound) -> str:
    lead = f"{c.symbol:<{_TICKER}} "
    if not c.headline:
        return c.symbol
    lines = wrap(c.headline, PHONE_WIDTH - display_width(lead), max_lines=HEADLINE_LINES)
    indent = " " * display_width(lead)
    return "\n".join((lead if i == 0 else indent) + line for i, line in enumerate(lines))


def reconciliation_phone_table(
    digest: ReconciliationDigest, *, mismatches_only: bool = False
) -> PhoneTable:
    """The reconciliation rows within the phone width: mismatches first, then by ticker."""
    chosen = digest.mismatches if mismatches_only else digest.rows
    ordered = sorted(chosen, key=lambda r: (r.ok, r.ticker))
    header = f"{'Ticker':<{_TICKER}} {'DB':>7} {'Broker':>7} {'Execs':>7} Status"
    rows = tuple(
        f"{r.ticker:<{_TICKER}} {r.db_qty:>7} {r.broker_qty:>7} {r.executions_qty:>7} "
        f"{'ok' if r.ok else r.status.value.upper()}"
        for r in ordered
    )
    return PhoneTable("Mismatches" if mismatches_only else "Reconciliation", header, rows)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospaced font: wide and full-width characters (CJK,
    most emoji) take two, combining marks and format characters none."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap(text: str, width: int, *, max_lines: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` display columns, broken at spaces (a word
    wider than the line is split); with ``max_lines``, what does not fit ends in "…"."""
    width = max(width, 2)
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if display_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while display_width(current) > width:
            head, current = split_at_width(current, width)
            lines.append(head)
    if current or not lines:
        lines.append(current)
    if max_lines is not None and len(lines) > max_lines:
        last, _ = split_at_width(lines[max_lines - 1], width - 1)
        lines = [*lines[: max_lines - 1], last.rstrip() + "…"]
    return lines


def split_at_width(text: str, width: int) -> tuple[str, str]:
    """``text`` cut after at most ``width`` display columns: ``(head, rest)``, ``head +
    rest == text``."""
    used = 0
    for i, ch in enumerate(text):
        used += _char_width(ch)
        if used > width:
            return text[:i], text[i:]
    return text, ""


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
