"""Builds the notifiers from settings; bootstrap calls these and owns the HTTP client.

The Discord notifier is imported only when a webhook is configured, so a daemon without one
never loads it (or discord-webhook/requests behind it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

import httpx
import structlog

from skimd.clock import Clock
from skimd.config import NotificationSettings, Settings
from skimd.domain.alert_policy import AlertPolicy, KindRule, Mode, Route
from skimd.domain.alerts import Severity
from skimd.infrastructure.notifications.console import ConsoleNotifier
from skimd.infrastructure.notifications.fanout import FanOutNotifier, Notifier
from skimd.infrastructure.notifications.heartbeat import Heartbeat
from skimd.infrastructure.notifications.jsonl import JsonlNotifier

if TYPE_CHECKING:
    from skimd.infrastructure.notifications.message_renderers import MessageRenderer

log = structlog.get_logger(__name__)

MAIN_WEBHOOK = "discord"
CRITICAL_WEBHOOK = "discord-critical"


def _notifications(settings: Settings | NotificationSettings) -> NotificationSettings:
    return settings.notifications if isinstance(settings, Settings) else settings


def build_notifier(
    settings: Settings,
    *,
    clock: Clock,
    http_client: httpx.AsyncClient | None,
    stdout: TextIO | None,
    renderer: MessageRenderer | None = None,
) -> FanOutNotifier:
    """Console (if enabled and ``stdout`` given), JSON-lines file, Discord and the critical
    Discord webhook, each a named member of one fan-out notifier. ``http_client`` may be
    None when no Discord webhook is configured (bootstrap makes a client only for a part
    that uses one).

    Member names (stable, used by the outbox's delivery records): ``console``, ``jsonl``,
    ``discord``, ``discord-critical``. Times read in the market zone (``market.timezone``).
    Which alert reaches which Discord webhook is :func:`build_alert_policy`'s (the fan-out
    applies it to direct sends; the outbox sender to everything else), so both webhooks
    take every severity here. ``renderer`` draws the Discord messages (default: in this
    process; bootstrap gives the daemon's child-process one).
    """
    cfg = settings.notifications
    tz = ZoneInfo(settings.market.timezone)
    members: list[Notifier] = []
    if cfg.console and stdout is not None:
        members.append(ConsoleNotifier(stdout, tz=tz))
    if cfg.jsonl_file is not None:
        members.append(JsonlNotifier(cfg.jsonl_file))
    common = {
        "http_client": http_client,
        "clock": clock,
        "username": cfg.discord_username,
        "tz": tz,
        "charts": cfg.discord_charts,
        "max_inline_wait_s": cfg.discord_max_inline_wait_s,
        "timeout_s": cfg.discord_timeout_s,
        "renderer": renderer,
    }
    if cfg.discord_webhook_url is not None or cfg.discord_critical_webhook_url is not None:
        if http_client is None:
            raise ValueError("a Discord webhook is configured but no HTTP client was given")
        from skimd.infrastructure.notifications.discord import DiscordNotifier
    if cfg.discord_webhook_url is not None:
        members.append(
            DiscordNotifier(
                cfg.discord_webhook_url,
                name=MAIN_WEBHOOK,
                **common,  # type: ignore[arg-type]
            )
        )
    if cfg.discord_critical_webhook_url is not None:
        members.append(
            DiscordNotifier(
                cfg.discord_critical_webhook_url,
                name=CRITICAL_WEBHOOK,
                **common,  # type: ignore[arg-type]
            )
        )
    if not members:
        log.warning("no alert notifier configured; alerts stay in the outbox")
    return FanOutNotifier(members, name="alerts", policy=build_alert_policy(settings))


def build_alert_policy(settings: Settings | NotificationSettings) -> AlertPolicy:
    """The per-kind policy of ``[notifications.kinds]`` over the configured webhooks."""
    cfg = _notifications(settings)
    channels: dict[str, Route] = {}
    if cfg.discord_webhook_url is not None:
        channels[MAIN_WEBHOOK] = Route.MAIN
    if cfg.discord_critical_webhook_url is not None:
        channels[CRITICAL_WEBHOOK] = Route.CRITICAL
    return AlertPolicy(
        channels=channels,
        kinds={
            kind: KindRule(Mode(rule.mode), Route(rule.route) if rule.route else None)
            for kind, rule in cfg.kinds.items()
        },
        main_min_severity=Severity(cfg.discord_min_severity),
    )


def build_heartbeat(
    settings: Settings | NotificationSettings,
    *,
    clock: Clock,
    http_client: httpx.AsyncClient,
    is_healthy: Callable[[], bool],
) -> Heartbeat | None:
    """The heartbeat, or None when no ``heartbeat_url`` is configured."""
    cfg = _notifications(settings)
    if cfg.heartbeat_url is None:
        return None
    return Heartbeat(
        cfg.heartbeat_url,
        interval_s=cfg.heartbeat_interval_min * 60,
        http_client=http_client,
        clock=clock,
        is_healthy=is_healthy,
        timeout_s=cfg.heartbeat_timeout_s,
    )
