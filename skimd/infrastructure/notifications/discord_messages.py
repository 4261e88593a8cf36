"""An alert as the Discord requests that carry it: JSON bodies built with ``discord-webhook``
plus their attachments (the chart PNG drawn with Pillow, the data files).

Pure and synchronous; imports Pillow and discord-webhook (which pulls in ``requests``) only
when called, so the module is cheap to import. The daemon runs these functions in a
short-lived child process (:mod:`.message_renderers`), so neither library is ever loaded
into it; commands and tests may call them in process.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from skimd.domain.alerts import Alert
from skimd.infrastructure.notifications.charts import chart_filename, chart_for
from skimd.infrastructure.notifications.discord_format import (
    attachments_for,
    plain_text,
    render_alert,
)
from skimd.infrastructure.notifications.discord_limits import MessageSpec, split_message

_PLACEHOLDER_URL = "https://discord.invalid/webhook"  # discord-webhook never sees the secret

Composed = tuple[dict[str, Any], list[tuple[str, bytes]]]
"""One request: its JSON body and its files (name, bytes) in attachment order."""


def compose(alert: Alert, *, tz: tzinfo, charts: bool, username: str | None) -> list[Composed]:
    """The embed version of ``alert``: one or more requests (split to Discord's limits), the
    chart attached to the first when ``charts`` and the alert has one."""
    png = chart_for(alert, tz) if charts else None
    filename = chart_filename(alert) if png is not None else None
    content, embeds = render_alert(alert, tz=tz, chart_filename=filename)
    files = {filename: png} if filename and png is not None else {}
    files.update(attachments_for(alert))
    return [build_payload(m, username=username) for m in split_message(content, embeds, files)]


def compose_plain(alert: Alert, *, tz: tzinfo, username: str | None) -> list[Composed]:
    """The plain-text fallback (for a webhook that refused the embeds): no files, the whole
    table in the text."""
    return [build_payload(m, username=username) for m in split_message(plain_text(alert, tz), [])]


def build_payload(message: MessageSpec, *, username: str | None) -> Composed:
    """The JSON body and attachments of one request, built with discord-webhook."""
    from discord_webhook import DiscordEmbed, DiscordWebhook

    webhook = DiscordWebhook(
        url=_PLACEHOLDER_URL,
        content=message.content,
        username=username or False,
        allowed_mentions={"parse": []},
        wait=False,
    )
    for spec in message.embeds:
        embed = DiscordEmbed(title=spec.title, description=spec.description, color=spec.colour)
        for f in spec.fields:
            embed.add_embed_field(name=f.name, value=f.value, inline=f.inline)
        if spec.footer:
            embed.set_footer(text=spec.footer)
        if spec.timestamp is not None:
            embed.set_timestamp(spec.timestamp)
        if spec.image:
            embed.set_image(url=f"attachment://{spec.image}")
        webhook.add_embed(embed)
    files = list(message.files.items())
    for name, data in files:
        webhook.add_file(file=data, filename=name)
    webhook.attachments = [{"id": i, "filename": name} for i, (name, _) in enumerate(files)]
    return _without_nulls(webhook.json), files


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
