"""How each alert looks on Discord: one embed style per kind, colour by severity.

The words (title, summary, details) and the digests' tables and CSV are the ones every
channel shares (:mod:`skimd.domain.alert_text`, :mod:`skimd.domain.alert_tables`); this
module adds icons, colours, code blocks and the embed layout.

Output is a logical message (content + embeds, any length); :mod:`.discord_limits` splits
it into requests Discord accepts. Mentions are never parsed (``allowed_mentions`` is empty),
so text from an announcement headline cannot ping anyone.
"""

from __future__ import annotations

from datetime import tzinfo

from skimd.domain.alert_tables import (
    candidate_table,
    reconciliation_csv_file,
    reconciliation_csv_name,
    reconciliation_table,
)
from skimd.domain.alert_text import describe
from skimd.domain.alerts import (
    Alert,
    CandidateDigest,
    PositionExited,
    ReconciliationDigest,
    Severity,
)
from skimd.domain.trading import ExitReason
from skimd.infrastructure.notifications.discord_limits import (
    DESCRIPTION_MAX,
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


def colour_for(alert: Alert) -> int:
    if alert.severity is Severity.INFO and alert.kind == "order_filled":
        return GOOD_NEWS
    if isinstance(alert, PositionExited) and alert.severity is Severity.INFO and alert.pnl > 0:
        return GOOD_NEWS
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
        header, *rows = candidate_table(alert)
        return content, _table_embeds(alert, title, colour, tz, header, rows)
    if isinstance(alert, ReconciliationDigest):
        return content, _reconciliation_embeds(alert, text.summary, title, colour, tz)
    fields = [
        EmbedField(name, value, inline=name not in _LONG_FIELDS and len(value) <= _INLINE_MAX)
        for name, value in text.details
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


def _table_embeds(
    alert: Alert,
    title: str,
    colour: int,
    tz: tzinfo,
    header: str,
    rows: list[str],
    *,
    lead: str | None = None,
    fields: list[EmbedField] | None = None,
) -> list[EmbedSpec]:
    """A table in code blocks, each block whole in one embed (a fence split across embeds
    would show raw backticks). ``lead`` opens the first embed's description and
    ``fields`` follow it there."""
    full = DESCRIPTION_MAX - 2 * u16len(_FENCE) - 2 - u16len(header) - 1
    budget = full - (u16len(lead) + 1 if lead else 0)
    blocks: list[list[str]] = [[]]
    used = 0
    for row in rows:
        size = u16len(row) + 1
        if blocks[-1] and used + size > budget:
            blocks.append([])
            used = 0
            budget = full
        blocks[-1].append(row)
        used += size
    embeds = []
    for i, block in enumerate(blocks):
        body = "\n".join([header, *block])
        description = f"{_FENCE}\n{body}\n{_FENCE}"
        if i == 0 and lead:
            description = f"{lead}\n{description}"
        embeds.append(
            EmbedSpec(
                title=title if i == 0 else f"{title} ({i + 1}/{len(blocks)})",
                description=description,
                fields=list(fields or []) if i == 0 else [],
                colour=colour,
                timestamp=alert.occurred_at if i == 0 else None,
                footer=footer_for(alert, tz) if i == len(blocks) - 1 else None,
            )
        )
    return embeds


def _reconciliation_embeds(
    alert: ReconciliationDigest, summary: str, title: str, colour: int, tz: tzinfo
) -> list[EmbedSpec]:
    """The summary, the mismatched rows as a table (none when clean) and the notes; every
    row, matching or not, is in the attached CSV."""
    lead = f"{summary}\nFull table: `{reconciliation_csv_name(alert)}` (attached)"
    notes = [EmbedField("Note", note) for note in alert.notes]
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
    header, *rows = reconciliation_table(alert, mismatches_only=True)
    return _table_embeds(alert, title, colour, tz, header, rows, lead=lead, fields=notes)


def attachments_for(alert: Alert) -> dict[str, bytes]:
    """Files that carry an alert's data (not its chart): filename → bytes."""
    if isinstance(alert, ReconciliationDigest):
        name, data = reconciliation_csv_file(alert)
        return {name: data}
    return {}


def plain_text(alert: Alert, tz: tzinfo) -> str:
    """A content-only rendering, used when Discord refuses the embed version (HTTP 400)."""
    text = describe(alert)
    lines = [f"[{alert.severity.value.upper()}] {text.title}", text.summary]
    if isinstance(alert, CandidateDigest):
        lines.extend(candidate_table(alert))
    elif isinstance(alert, ReconciliationDigest):
        lines.extend(reconciliation_table(alert))
        lines.extend(f"Note: {note}" for note in alert.notes)
    else:
        lines.extend(f"{name}: {value}" for name, value in text.details)
    lines.append(footer_for(alert, tz))
    return "\n".join(lines)
