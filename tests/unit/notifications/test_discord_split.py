"""The splitter against Discord's limits: never over a limit, never a character lost."""

from __future__ import annotations

import random

import pytest

from skimd.infrastructure.notifications.discord_limits import (
    CONTINUED,
    EmbedField,
    EmbedSpec,
    MessageSpec,
    cut,
    split_message,
    u16len,
)
from tests.fakes.discord_server import UploadedFile, check_limits

ALPHABET = "abcdefghij klmnop\nqrstuv wxyz 0123456789 é ü 🚀 ⚖️ 漢字"


def text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def as_payload(message: MessageSpec) -> dict[str, object]:
    return {
        "content": message.content,
        "embeds": [
            {
                "title": e.title,
                "description": e.description,
                "fields": [{"name": f.name, "value": f.value} for f in e.fields],
                "footer": {"text": e.footer} if e.footer else None,
                "image": {"url": f"attachment://{e.image}"} if e.image else None,
            }
            for e in message.embeds
        ],
    }


def assert_within_limits(messages: list[MessageSpec]) -> None:
    for m in messages:
        files = [UploadedFile("f", name, "image/png", data) for name, data in m.files.items()]
        assert check_limits(as_payload(m), files) == []
        # and the stricter UTF-16 count the splitter uses
        assert u16len(m.content or "") <= 2000
        assert sum(e.size for e in m.embeds) <= 6000


def test_cut_keeps_every_character_and_prefers_line_ends() -> None:
    head, rest = cut("alpha beta\ngamma delta", 15)
    assert head == "alpha beta\n" and head + rest == "alpha beta\ngamma delta"
    head, rest = cut("🚀" * 10, 5)  # astral characters count two units and are never halved
    assert head == "🚀" * 2 and u16len(head) == 4


@pytest.mark.parametrize("seed", range(25))
def test_random_oversized_messages_fit_and_reassemble(seed: int) -> None:
    rng = random.Random(seed)
    content = text(rng, rng.choice([0, 50, 2500, 7000]))
    embeds = []
    for _ in range(rng.randint(1, 4)):
        fields = [
            EmbedField(
                text(rng, rng.choice([3, 40, 300])), text(rng, rng.choice([0, 10, 900, 3000]))
            )
            for _ in range(rng.randint(0, 40))
        ]
        embeds.append(
            EmbedSpec(
                title=text(rng, rng.choice([10, 300])),
                description=text(rng, rng.choice([0, 100, 5000, 12000])),
                fields=fields,
                footer=text(rng, rng.choice([0, 30, 2500])) or None,
                colour=0x3498DB,
            )
        )
    messages = split_message(content or None, embeds)
    assert_within_limits(messages)
    # content survives whole and in order
    assert "".join(m.content or "" for m in messages) == content
    # each field value survives whole (continuations follow their field, in order)
    values = [
        f.value
        for m in messages
        for e in m.embeds
        for f in e.fields
        if not f.name.startswith("Footer")
    ]
    joined = "".join(values)
    for embed in embeds:
        for f in embed.fields:
            if f.value.strip() and u16len(f.name) <= 256:
                assert f.value in joined


def test_long_description_continues_in_next_embed_with_marked_title() -> None:
    description = "\n".join(f"line {i:05d} " + "x" * 60 for i in range(200))  # ~14 000 chars
    messages = split_message(None, [EmbedSpec(title="Digest", description=description)])
    assert_within_limits(messages)
    embeds = [e for m in messages for e in m.embeds]
    assert "".join(e.description or "" for e in embeds) == description
    assert embeds[0].title == "Digest"
    assert all(e.title == "Digest" + CONTINUED for e in embeds[1:])


def test_more_than_25_fields_and_10_embeds_spill_over() -> None:
    embeds = [
        EmbedSpec(title=f"E{i}", fields=[EmbedField(f"f{j}", "v") for j in range(30)])
        for i in range(8)
    ]
    messages = split_message(None, embeds)
    assert_within_limits(messages)
    assert len(messages) >= 2
    assert sum(len(e.fields) for m in messages for e in m.embeds) == 8 * 30


def test_field_value_over_1024_continues_in_cont_fields() -> None:
    value = "word " * 700  # 3500 chars
    messages = split_message(None, [EmbedSpec(title="t", fields=[EmbedField("Reason", value)])])
    fields = [f for m in messages for e in m.embeds for f in e.fields]
    assert [f.name for f in fields] == ["Reason"] + ["Reason" + CONTINUED] * (len(fields) - 1)
    assert "".join(f.value for f in fields) == value


def test_empty_field_values_become_visible_placeholders() -> None:
    (message,) = split_message(None, [EmbedSpec(title="t", fields=[EmbedField("", "  ")])])
    assert_within_limits([message])


def test_attachment_travels_with_the_embed_that_shows_it() -> None:
    png = b"\x89PNG fake"
    messages = split_message(
        "x" * 4500, [EmbedSpec(title="chart", description="d", image="c.png")], {"c.png": png}
    )
    assert_within_limits(messages)
    holder = next(m for m in messages if m.files)
    assert holder.files == {"c.png": png}
    assert holder.embeds and holder.embeds[0].image == "c.png"
