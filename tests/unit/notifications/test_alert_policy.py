"""The per-kind alert policy: its configuration (one-line errors naming the key), the
webhook each kind reaches, and what the fan-out does with it on a direct send."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from skimd.clock import SimulatedClock
from skimd.config import PROJECT_ROOT, NotificationSettings, Settings, load_settings
from skimd.domain.alert_policy import (
    DEFAULT_RULES,
    AlertPolicy,
    Disposition,
    KindRule,
    Mode,
    Route,
    configurable_kinds,
)
from skimd.domain.alert_text import quiet_digest
from skimd.domain.alerts import (
    ALERT_TYPES,
    BrokerSessionStillDown,
    CandidateFound,
    GuardTripped,
    JobFailed,
    OrderFilled,
    Severity,
)
from skimd.domain.trading import CandidateSource, GuardKind
from skimd.errors import ConfigurationError
from skimd.infrastructure.notifications.factory import build_alert_policy, build_notifier
from skimd.infrastructure.notifications.fanout import FanOutNotifier
from tests.fakes.notifiers import RecordingNotifier

T = datetime(2024, 6, 3, 0, 5, tzinfo=UTC)
FILL = OrderFilled(occurred_at=T, symbol="BHP", side="BUY", quantity=100,
                   client_order_id="c-1", price=Decimal("47.92"))
LOST = BrokerSessionStillDown(occurred_at=T, broker="ibkr", down_since=T, reason="competing",
                              after_min=10)  # critical
GUARD = GuardTripped(occurred_at=T, guard=GuardKind.DAILY_LOSS_CAP, detail="loss cap")  # critical
FAILED = JobFailed(occurred_at=T, job_id="gap_scan", error_type="X", message="boom")  # warning
PHONES = {"discord": Route.MAIN, "discord-critical": Route.CRITICAL}


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "skimd.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


# -- configuration -------------------------------------------------------------------------


def test_kinds_take_a_mode_alone_or_a_table(tmp_path: Path) -> None:
    settings = load(tmp_path, """
[notifications]
quiet_digest_interval_min = 30

[notifications.kinds]
order_placed = "quiet"
candidate_found = { mode = "quiet", route = "main" }
order_filled = { route = "critical" }
job_missed = "off"
""")
    cfg = settings.notifications
    assert cfg.quiet_digest_interval_min == 30
    assert {k: (v.mode, v.route) for k, v in cfg.kinds.items()} == {
        "order_placed": ("quiet", None),
        "candidate_found": ("quiet", "main"),
        "order_filled": ("on", "critical"),
        "job_missed": ("off", None),
    }
    policy = build_alert_policy(cfg)
    assert policy.rule("candidate_found") == KindRule(Mode.QUIET, Route.MAIN)
    assert policy.rule("daily_summary") == KindRule()  # unnamed kinds: on, by severity


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('nosuch = "quiet"', "[notifications] kinds.nosuch: unknown alert kind 'nosuch'"),
        ('quiet_digest = "off"', "[notifications] kinds.quiet_digest: 'quiet_digest' is made"),
        ('candidate_digest = "off"', "kinds.candidate_digest: 'candidate_digest' is made by"),
        ('order_filled = "loud"',
         "[notifications] kinds.order_filled.mode: Input should be 'on', 'quiet' or 'off'"),
        ('order_filled = { route = "pager" }',
         "[notifications] kinds.order_filled.route: Input should be 'main' or 'critical'"),
        ('order_filled = { mode = "on", colour = "red" }',
         "unknown key [notifications] kinds.order_filled.colour"),
    ],
)
def test_a_bad_kind_entry_is_one_line_naming_the_key(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, f"[notifications.kinds]\n{line}\n")
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert text.startswith(str(tmp_path / "skimd.toml"))


def test_the_digest_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="quiet_digest_interval_min"):
        load(tmp_path, "[notifications]\nquiet_digest_interval_min = 0\n")


def test_every_registered_kind_but_the_digests_can_be_configured(tmp_path: Path) -> None:
    kinds = [k for k in ALERT_TYPES if k not in ("quiet_digest", "candidate_digest")]
    table = "\n".join(f'{k} = "off"' for k in kinds)
    settings = load(tmp_path, f"[notifications.kinds]\n{table}\n")
    assert sorted(settings.notifications.kinds) == sorted(kinds)


# -- routing ---------------------------------------------------------------------------------


def test_default_policy_is_the_behaviour_before_it() -> None:
    policy = AlertPolicy(channels=PHONES)
    assert [policy.disposition("discord", a) for a in (FILL, LOST, FAILED)] == [
        Disposition.SEND] * 3
    assert [policy.disposition("discord-critical", a) for a in (FILL, LOST, FAILED)] == [
        Disposition.SKIP, Disposition.SEND, Disposition.SKIP]


def test_route_main_keeps_a_critical_kind_off_the_critical_webhook() -> None:
    policy = AlertPolicy(channels=PHONES, kinds={"guard_tripped": KindRule(route=Route.MAIN)})
    assert policy.disposition("discord", GUARD) is Disposition.SEND
    assert policy.disposition("discord-critical", GUARD) is Disposition.SKIP
    assert policy.disposition("discord-critical", LOST) is Disposition.SEND  # others unchanged


def test_route_critical_adds_the_critical_webhook_whatever_the_severity() -> None:
    policy = AlertPolicy(channels=PHONES, kinds={"order_filled": KindRule(route=Route.CRITICAL)})
    assert policy.disposition("discord", FILL) is Disposition.SEND
    assert policy.disposition("discord-critical", FILL) is Disposition.SEND


def test_modes_apply_on_each_webhook_the_kind_reaches_and_never_to_the_record() -> None:
    policy = AlertPolicy(
        channels=PHONES,
        kinds={"job_failed": KindRule(Mode.OFF),
               "order_filled": KindRule(Mode.QUIET, Route.CRITICAL)},
    )
    assert policy.disposition("discord", FAILED) is Disposition.SKIP
    assert policy.disposition("discord", FILL) is Disposition.HOLD
    assert policy.disposition("discord-critical", FILL) is Disposition.HOLD
    assert policy.disposition("console", FILL) is Disposition.SEND  # not a phone channel
    assert policy.disposition("jsonl", FAILED) is Disposition.SEND


def test_quiet_holds_the_routine_only_a_warning_of_the_kind_comes_at_once() -> None:
    policy = AlertPolicy(channels=PHONES, kinds={"job_failed": KindRule(Mode.QUIET)})
    assert FAILED.severity is Severity.WARNING
    assert policy.disposition("discord", FAILED) is Disposition.SEND


def test_a_critical_alert_is_never_quiet_or_off() -> None:
    policy = AlertPolicy(
        channels=PHONES,
        kinds={"broker_session_still_down": KindRule(Mode.QUIET),
               "guard_tripped": KindRule(Mode.OFF)},
    )
    assert policy.disposition("discord", LOST) is Disposition.SEND
    assert policy.disposition("discord-critical", LOST) is Disposition.SEND
    assert policy.disposition("discord", GUARD) is Disposition.SEND  # the daily loss cap
    limit = GuardTripped(occurred_at=T, guard=GuardKind.MAX_POSITIONS, detail="3 held")
    assert policy.disposition("discord", limit) is Disposition.SKIP


def test_routine_kinds_are_quiet_unless_the_config_says_otherwise() -> None:
    found = CandidateFound(occurred_at=T, symbol="BHP", source=CandidateSource.NEWS,
                           headline="Takeover")
    limit = GuardTripped(occurred_at=T, guard=GuardKind.MAX_POSITIONS, detail="3 held")
    default = AlertPolicy(channels=PHONES)
    assert [default.disposition("discord", a) for a in (found, limit, FILL)] == [
        Disposition.HOLD, Disposition.HOLD, Disposition.SEND]
    assert set(DEFAULT_RULES) <= set(configurable_kinds())
    configured = AlertPolicy(channels=PHONES, kinds={"candidate_found": KindRule(Mode.ON)})
    assert configured.disposition("discord", found) is Disposition.SEND
    assert configured.disposition("discord", limit) is Disposition.HOLD  # its default stays


def test_main_webhook_drops_what_is_below_its_minimum_severity() -> None:
    policy = AlertPolicy(channels=PHONES, main_min_severity=Severity.WARNING)
    assert policy.disposition("discord", FILL) is Disposition.SKIP
    assert policy.disposition("discord", FAILED) is Disposition.SEND


def test_a_quiet_digest_is_always_sent() -> None:
    policy = AlertPolicy(channels=PHONES, kinds={"order_filled": KindRule(Mode.QUIET)})
    digest = quiet_digest([FILL, FAILED], occurred_at=T)
    assert policy.disposition("discord", digest) is Disposition.SEND
    assert digest.severity is Severity.WARNING  # a warning was held; never critical
    assert quiet_digest([FILL], occurred_at=T).severity is Severity.INFO


def test_a_policy_naming_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        AlertPolicy(kinds={"nosuch": KindRule()})


def test_policy_names_only_the_configured_webhooks() -> None:
    main_only = NotificationSettings(discord_webhook_url=SecretStr("https://x.example/1"))
    assert dict(build_alert_policy(main_only).channels) == {"discord": Route.MAIN}
    both = NotificationSettings(
        discord_webhook_url=SecretStr("https://x.example/1"),
        discord_critical_webhook_url=SecretStr("https://x.example/2"),
        discord_min_severity="warning",
    )
    policy = build_alert_policy(both)
    assert dict(policy.channels) == PHONES
    assert policy.main_min_severity is Severity.WARNING


# -- direct sends through the fan-out --------------------------------------------------------


async def test_fan_out_direct_send_skips_what_the_policy_skips() -> None:
    main, critical, console = (RecordingNotifier(n) for n in
                               ("discord", "discord-critical", "console"))
    policy = AlertPolicy(channels=PHONES, kinds={"order_filled": KindRule(Mode.QUIET),
                                                 "job_failed": KindRule(Mode.OFF)})
    fan = FanOutNotifier([main, critical, console], policy=policy)
    for alert in (FILL, FAILED, LOST):
        await fan.send(alert)
    assert main.received == [FILL, LOST]  # quiet: sent at once (no digest for a direct send)
    assert critical.received == [LOST]
    assert console.received == [FILL, FAILED, LOST]


async def test_factory_builds_the_fan_out_with_the_configured_policy() -> None:
    settings = Settings(notifications=NotificationSettings(
        discord_webhook_url=SecretStr("https://x.example/1"),
        kinds={"order_filled": "off"},  # type: ignore[dict-item]
    ))
    async with httpx.AsyncClient() as http:
        fan = build_notifier(settings, clock=SimulatedClock(T), http_client=http,
                             stdout=io.StringIO())
    assert fan.policy.rule("order_filled") == KindRule(Mode.OFF)
    assert fan.policy.disposition("discord", FILL) is Disposition.SKIP


def test_the_readme_lists_every_kind_and_the_quiet_defaults() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Alerts on the phone", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert set(configurable_kinds()) <= named
    quiet = section.split("Quiet unless configured", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", quiet)) == set(DEFAULT_RULES)
