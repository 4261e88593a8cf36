"""How each alert looks on Discord: one embed style per kind, colour by severity.

The words (title, summary, details) and the digests' tables and CSV are the ones every
channel shares (:mod:`skimd.domain.alert_text`, :mod:`skimd.domain.alert_tables`); this
module adds icons, colours, code blocks and the embed layout.

Discord is read on a phone, so two rules hold for every kind:

- every line of a code block is at most :data:`~skimd.domain.alert_tables.PHONE_WIDTH`
  display columns (the digests use the phone tables; a cell that still overflows goes on
  in the next line, nothing is cut);
- a detail becomes an embed field only when it tells the trader something
  (:func:`phone_details`): no empty or "—" values, no repeats of the title, no record
  ids. Those stay in the journal and in the console and JSON-lines records.

Output is a logical message (content + embeds, any length); :mod:`.discord_limits` splits
it into requests Discord accepts. Mentions are never parsed (``allowed_mentions`` is empty),
so text from an announcement headline cannot ping anyone.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from skimd.domain.alert_tables import (
    PHONE_WIDTH,
    PhoneTable,
    candidate_phone_tables,
    display_width,
    reconciliation_csv_file,
    reconciliation_csv_name,
    reconciliation_phone_table,
    split_at_width,
)
from skimd.domain.alert_text import Details, describe
from skimd.domain.alerts import (
    Alert,
    CandidateDigest,
    PositionExited,
    ReconciliationDigest,
    Severity,
)
from skimd.domain.formatting import MISSING
from skimd.domain.trading import ExitReason
from skimd.infrastructure.notifications.discord_limits import (
    DESCRIPTION_MAX,
    ZERO_WIDTH,
    EmbedField,
    EmbedSpec,
    u16len,
)

COLOURS = {
    Severity.INFO: 0x3498DB,
    Severity.WARNING: 0xF1C40F,
    Severity.CRITICAL: 0xE74C3C,
}
GOOD_NEWS = 0x2ECC71  # fills and profitable exits stay green when they are only info

ICONS = {
    "candidate_found": "🔎",
    "candidate_digest": "📋",
    "tradeable_candidate": "🎯",
    "order_placed": "📝",
    "order_filled": "✅",
    "order_rejected": "⛔",
    "position_exited": "💰",
    "position_mismatch": "⚖️",
    "job_failed": "💥",
    "job_missed": "⏰",
    "broker_session_lost": "🔌",
    "quote_stream_down": "📉",
    "broker_rate_limited": "🐢",
    "guard_tripped": "🚧",
    "guard_released": "✅",
    "control_action": "🕹️",
    "daemon_started": "▶️",
    "daemon_stopping": "⏹️",
    "daily_summary": "📊",
    "reconciliation_digest": "🧮",
}
_LONG_FIELDS = {"Headline", "Reason", "Message", "Detail", "Note"}
_INLINE_MAX = 40
_FENCE = "```"
_SAYS_NOTHING = {"", MISSING, ZERO_WIDTH}
_RECORD_ID_NAMES = {"order"}
_WORD_BREAK = re.compile(r"[\s:;,()\[\]/·|“”\"]+")


def colour_for(alert: Alert) -> int:
    """The embed's colour: by severity, green for a fill and for an exit that made money
    after fees (gross P&L only while its fees are not known)."""
    if alert.severity is Severity.INFO and alert.kind in ("order_filled", "entry_settled"):
        return GOOD_NEWS
    if isinstance(alert, PositionExited) and alert.severity is Severity.INFO:
        made = alert.pnl if alert.net_pnl is None else alert.net_pnl
        return GOOD_NEWS if made > 0 else COLOURS[alert.severity]
    return COLOURS[alert.severity]


def icon_for(alert: Alert) -> str:
    if isinstance(alert, PositionExited) and alert.reason is ExitReason.STOP:
        return "🛑"
    return ICONS.get(alert.kind, "🔔")


def footer_for(alert: Alert, tz: tzinfo) -> str:
    local = alert.occurred_at.astimezone(tz)
    return f"skimd · {alert.kind} · {alert.severity.value} · {local:%Y-%m-%d %H:%M:%S %Z}"


def render_alert(
    alert: Alert, *, tz: tzinfo, chart_filename: str | None = None
) -> tuple[str | None, list[EmbedSpec]]:
    """Content (critical alerts only, so phones show it) and embeds for ``alert``."""
    text = describe(alert)
    content = None
    if alert.severity is Severity.CRITICAL:
        content = f"🚨 **{text.title}**"
    colour = colour_for(alert)
    title = f"{icon_for(alert)} {text.title}"
    if isinstance(alert, CandidateDigest):
        tables = candidate_phone_tables(alert)
        return content, _table_embeds(alert, title, colour, tz, tables)
    if isinstance(alert, ReconciliationDigest):
        return content, _reconciliation_embeds(alert, text.summary, title, colour, tz)
    fields = [
        EmbedField(name, value, inline=name not in _LONG_FIELDS and len(value) <= _INLINE_MAX)
        for name, value in phone_details(text.title, text.details)
    ]
    embed = EmbedSpec(
        title=title,
        description=text.summary,
        fields=fields,
        footer=footer_for(alert, tz),
        colour=colour,
        timestamp=alert.occurred_at,
        image=chart_filename,
    )
    return content, [embed]


def phone_details(title: str, details: Details) -> list[tuple[str, str]]:
    """The details worth a phone's screen, in their order. Left out (the journal and the
    console/JSON-lines records keep them all):

    - a value that says nothing: empty, blank or :data:`MISSING` ("—");
    - a record id (:func:`is_record_id`): order and broker ids;
    - a value the title already states (the whole value, as words of the title, at least
      three characters long so a lone "1" or "no" is not taken for a fact of the title).
    """
    words = _words(title)
    return [
        (name, value)
        for name, value in details
        if value.strip() not in _SAYS_NOTHING
        and not is_record_id(name)
        and not _repeats(value, words)
    ]


def is_record_id(name: str) -> bool:
    """Whether a detail named ``name`` holds a record id: named "… id" (``Order id``,
    ``Broker id``), or ``Order`` (the client order id, by its older name)."""
    folded = name.strip().casefold()
    return folded in _RECORD_ID_NAMES or folded.endswith(" id")


def _words(text: str) -> list[str]:
    return [w for w in _WORD_BREAK.split(text.casefold().replace("_", " ")) if w]


def _repeats(value: str, title_words: list[str]) -> bool:
    if len(value.strip()) < 3:
        return False
    words = _words(value)
    n = len(words)
    return n > 0 and any(title_words[i : i + n] == words for i in range(len(title_words) - n + 1))


def _table_embeds(
    alert: Alert,
    title: str,
    colour: int,
    tz: tzinfo,
    tables: tuple[PhoneTable, ...],
    *,
    lead: str | None = None,
    fields: list[EmbedField] | None = None,
) -> list[EmbedSpec]:
    """Phone tables in code blocks, each block whole in one embed (a fence split across
    embeds would show raw backticks). ``lead`` opens the first embed's description and
    ``fields`` follow it there."""
    descriptions = _descriptions(tables, lead)
    embeds = []
    for i, description in enumerate(descriptions):
        embeds.append(
            EmbedSpec(
                title=title if i == 0 else f"{title} ({i + 1}/{len(descriptions)})",
                description=description,
                fields=list(fields or []) if i == 0 else [],
                colour=colour,
                timestamp=alert.occurred_at if i == 0 else None,
                footer=footer_for(alert, tz) if i == len(descriptions) - 1 else None,
            )
        )
    return embeds


def _descriptions(tables: tuple[PhoneTable, ...], lead: str | None) -> list[str]:
    """The lead, then each table's captioned code blocks, packed into descriptions of at
    most :data:`DESCRIPTION_MAX` (a block is never split; a table too long for one block
    continues in the next, under its header again)."""
    out: list[str] = []
    current = lead or ""
    for table in tables:
        blocks = _code_blocks(table, first_room=DESCRIPTION_MAX - _joined_size(current))
        for block in blocks:
            if current and _joined_size(current) + u16len(block) > DESCRIPTION_MAX:
                out.append(current)
                current = ""
            current = f"{current}\n{block}" if current else block
    out.append(current)
    return out


def _joined_size(text: str) -> int:
    return u16len(text) + 1 if text else 0


def _code_blocks(table: PhoneTable, *, first_room: int) -> list[str]:
    """``table`` as fenced blocks: the first fits ``first_room`` when it can hold a row,
    the others :data:`DESCRIPTION_MAX`; the caption opens the first."""
    caption = f"**{table.caption}**\n" if table.caption else ""
    head = _mono(table.header) if table.header else []
    entries = ["\n".join(_mono(row)) for row in table.rows]
    frame = 2 * (u16len(_FENCE) + 1) + sum(u16len(line) + 1 for line in head)
    blocks: list[str] = []
    rows: list[str] = []
    used = u16len(caption) + frame
    room = first_room

    def close() -> None:
        body = "\n".join([*head, *rows])
        prefix = caption if not blocks else ""
        blocks.append(f"{prefix}{_FENCE}\n{body}\n{_FENCE}")

    for entry in entries:
        size = u16len(entry) + 1
        if used + size > room and (rows or room < DESCRIPTION_MAX):
            if rows:
                close()
            rows = []
            used = frame + (0 if blocks else u16len(caption))
            room = DESCRIPTION_MAX
        rows.append(entry)
        used += size
    if rows:
        close()
    return blocks


def _mono(text: str) -> list[str]:
    """Lines of a code block: free of backticks (they could close the fence) and within
    :data:`PHONE_WIDTH` whatever a cell holds (an over-wide line goes on in the next)."""
    out: list[str] = []
    for line in text.replace("`", "'").split("\n"):
        while display_width(line) > PHONE_WIDTH:
            head, line = split_at_width(line, PHONE_WIDTH)
            out.append(head)
        out.append(line)
    return out


def _reconciliation_embeds(
    alert: ReconciliationDigest, summary: str, title: str, colour: int, tz: tzinfo
) -> list[EmbedSpec]:
    """The summary, the mismatched rows as a table (none when clean) and the notes; every
    row, matching or not, is in the attached CSV."""
    lead = f"{summary}\nFull table: `{reconciliation_csv_name(alert)}` (attached)"
    notes = [EmbedField("Note", note) for note in alert.notes if note.strip()]
    if not alert.mismatches:
        return [
            EmbedSpec(
                title=title,
                description=lead,
                fields=notes,
                footer=footer_for(alert, tz),
                colour=colour,
                timestamp=alert.occurred_at,
            )
        ]
    table = reconciliation_phone_table(alert, mismatches_only=True)
    return _table_embeds(alert, title, colour, tz, (table,), lead=lead, fields=notes)


def attachments_for(alert: Alert) -> dict[str, bytes]:
    """Files that carry an alert's data (not its chart): filename → bytes."""
    if isinstance(alert, ReconciliationDigest):
        name, data = reconciliation_csv_file(alert)
        return {name: data}
    return {}


def plain_text(alert: Alert, tz: tzinfo) -> str:
    """A content-only rendering, used when Discord refuses the embed version (HTTP 400):
    the embed's words and phone tables as plain lines (the CSV is not attached here, so
    the reconciliation lists every row)."""
    text = describe(alert)
    lines = [f"[{alert.severity.value.upper()}] {text.title}", text.summary]
    if isinstance(alert, CandidateDigest):
        lines.extend(_table_lines(candidate_phone_tables(alert)))
    elif isinstance(alert, ReconciliationDigest):
        lines.extend(_table_lines((reconciliation_phone_table(alert),)))
        lines.extend(f"Note: {note}" for note in alert.notes)
    else:
        lines.extend(f"{name}: {value}" for name, value in phone_details(text.title, text.details))
    lines.append(footer_for(alert, tz))
    return "\n".join(lines)


def _table_lines(tables: tuple[PhoneTable, ...]) -> list[str]:
    out: list[str] = []
    for table in tables:
        out.extend(line for line in (table.caption, table.header) if line)
        out.extend(table.rows)
    return out
