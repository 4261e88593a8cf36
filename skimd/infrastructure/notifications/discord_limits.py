"""Discord's message limits, and a splitter that never exceeds them nor drops text.

Limits (execute-webhook): content 2000; at most 10 embeds; embed title 256, description
4096, at most 25 fields, field name 256 / value 1024, footer 2048; 6000 characters summed
over titles, descriptions, field names and values, footers and author names of all embeds
of one message. Lengths are counted in UTF-16 code units, which is never less than the
code-point count Discord documents, so a message that passes here passes there.

Nothing is cut silently: text over a limit continues in the next field ("… (cont.)"), the
next embed or the next message. Concatenating the pieces gives back the original text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

CONTENT_MAX = 2000
EMBEDS_PER_MESSAGE = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
FILES_PER_MESSAGE = 10

ELLIPSIS = "…"
ZERO_WIDTH = "\u200b"  # Discord refuses empty (or blank) field names and values
CONTINUED = " (cont.)"


def u16len(text: str) -> int:
    """Length in UTF-16 code units (an astral character counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def cut(text: str, limit: int, *, prefer_newline: bool = True) -> tuple[str, str]:
    """Split ``text`` into a head of at most ``limit`` UTF-16 units and the rest.

    Prefers to end the head after a newline (or else a space) in its second half, so
    lines and words stay whole; ``head + rest == text`` always.
    """
    if u16len(text) <= limit:
        return text, ""
    used = 0
    k = 0
    for ch in text:
        step = 2 if ord(ch) > 0xFFFF else 1
        if used + step > limit:
            break
        used += step
        k += 1
    if prefer_newline and k > 1:
        for sep in ("\n", " "):
            pos = text.rfind(sep, 0, k)
            if pos >= k // 2:
                k = pos + 1
                break
    k = max(k, 1) if limit > 0 else 0
    return text[:k], text[k:]


@dataclass
class EmbedField:
    name: str
    value: str
    inline: bool = False

    @property
    def size(self) -> int:
        return u16len(self.name) + u16len(self.value)


@dataclass
class EmbedSpec:
    """One embed before Discord's limits are applied (any field may be too long)."""

    title: str | None = None
    description: str | None = None
    fields: list[EmbedField] = field(default_factory=list)
    footer: str | None = None
    colour: int | None = None
    timestamp: datetime | None = None
    image: str | None = None  # filename of an attachment shown in the embed

    @property
    def size(self) -> int:
        return (
            u16len(self.title or "")
            + u16len(self.description or "")
            + sum(f.size for f in self.fields)
            + u16len(self.footer or "")
        )


@dataclass
class MessageSpec:
    """One webhook request: content, up to 10 embeds, attachments by filename."""

    content: str | None = None
    embeds: list[EmbedSpec] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


def split_message(
    content: str | None, embeds: list[EmbedSpec], files: dict[str, bytes] | None = None
) -> list[MessageSpec]:
    """Turn one logical message into requests that all respect every limit."""
    files = dict(files or {})
    physical: list[EmbedSpec] = []
    for embed in embeds:
        physical.extend(split_embed(embed))
    messages: list[MessageSpec] = []
    contents = _chunks(content or "", CONTENT_MAX)
    for chunk in contents[:-1] if physical else contents:
        messages.append(MessageSpec(content=chunk))
    current: MessageSpec | None = None
    for embed in physical:
        if (
            current is None
            or len(current.embeds) >= EMBEDS_PER_MESSAGE
            or sum(e.size for e in current.embeds) + embed.size > EMBED_TOTAL_MAX
        ):
            current = MessageSpec()
            messages.append(current)
            if len(messages) == len(contents) and physical and contents:
                current.content = contents[-1]
        current.embeds.append(embed)
    _place_files(messages, files)
    return messages


def split_embed(embed: EmbedSpec) -> list[EmbedSpec]:
    """One embed as several, each within the per-embed limits and 6000 in total."""
    title = embed.title or None
    description = embed.description or ""
    fields: list[EmbedField] = []
    if title is not None and u16len(title) > TITLE_MAX:
        head, rest = cut(title, TITLE_MAX - 1, prefer_newline=False)
        title = head + ELLIPSIS
        description = ELLIPSIS + rest + ("\n" + description if description else "")
    for f in embed.fields:
        fields.extend(_split_field(f))
    footer = embed.footer or None
    if footer is not None and u16len(footer) > FOOTER_MAX:
        head, rest = cut(footer, FOOTER_MAX - 1)
        footer = head + ELLIPSIS
        fields.extend(_split_field(EmbedField("Footer" + CONTINUED, ELLIPSIS + rest)))
    cont_title = _continued(title) if title else None

    out: list[EmbedSpec] = []
    while True:
        part = replace(embed, title=title if not out else cont_title, description=None,
                       fields=[], footer=None, image=embed.image if not out else None,
                       timestamp=embed.timestamp if not out else None)
        budget = EMBED_TOTAL_MAX - u16len(part.title or "")
        if description:
            head, description = cut(description, min(DESCRIPTION_MAX, budget))
            part.description = head
            budget -= u16len(head)
        while fields and len(part.fields) < FIELDS_PER_EMBED and fields[0].size <= budget:
            budget -= fields[0].size
            part.fields.append(fields.pop(0))
        out.append(part)
        if description or fields:
            continue
        if footer is not None:
            if u16len(footer) <= budget:
                part.footer = footer
            else:
                out.append(replace(part, title=cont_title, description=None, fields=[],
                                   footer=footer, image=None, timestamp=None))
        return out


def _split_field(f: EmbedField) -> list[EmbedField]:
    name, value = f.name, f.value
    if not name.strip():
        name = ZERO_WIDTH
    if u16len(name) > FIELD_NAME_MAX:
        head, rest = cut(name, FIELD_NAME_MAX - 1, prefer_newline=False)
        name = head + ELLIPSIS
        value = ELLIPSIS + rest + "\n" + value
    pieces = _chunks(value, FIELD_VALUE_MAX) or [ZERO_WIDTH]
    out = []
    for i, piece in enumerate(pieces):
        piece_name = name if i == 0 else _continued(name)
        out.append(EmbedField(piece_name, piece if piece.strip() else ZERO_WIDTH, f.inline))
    return out


def _continued(name: str) -> str:
    base = name[:-1] if name.endswith(ELLIPSIS) else name
    if u16len(base) + u16len(CONTINUED) > FIELD_NAME_MAX:
        base, _ = cut(base, FIELD_NAME_MAX - u16len(CONTINUED) - 1, prefer_newline=False)
        base += ELLIPSIS
    return base + CONTINUED


def _chunks(text: str, limit: int) -> list[str]:
    pieces = []
    while text:
        head, text = cut(text, limit)
        pieces.append(head)
    return pieces


def _place_files(messages: list[MessageSpec], files: dict[str, bytes]) -> None:
    """Each file goes with the message whose embed shows it; others with the first."""
    if not files:
        return
    if not messages:
        messages.append(MessageSpec())
    for name, data in files.items():
        target = next(
            (m for m in messages if any(e.image == name for e in m.embeds)), messages[0]
        )
        if len(target.files) >= FILES_PER_MESSAGE:
            target = MessageSpec()
            messages.append(target)
        target.files[name] = data
