"""Which phone channel hears which alert kind, and how: the per-kind alert policy.

Channels are of two sorts. The *record* channels (console, JSON-lines file) receive every
alert: they are the record, so no policy applies to them. The *phone* channels are the
Discord webhooks, each with a :class:`Route`: ``main`` (the ordinary webhook) or
``critical`` (the optional second webhook, kept for what the trader must act on).

Each alert kind has a :class:`KindRule`:

- ``mode``: ``on`` (sent as it happens, the default), ``quiet`` (held back and delivered
  in one :class:`~skimd.domain.alerts.QuietDigest` message at most every
  ``quiet_digest_interval_min``, and when the daily summary goes or the daemon stops) or
  ``off`` (never sent to a phone channel; still recorded).
- ``route``: unset (the default) sends the kind to the main webhook, and to the critical
  webhook too when that alert's severity is CRITICAL (the behaviour before this policy);
  ``main`` sends it to the main webhook only, whatever its severity; ``critical`` sends it
  to the critical webhook *in addition to* the main one, whatever its severity (the main
  webhook stays the complete feed; without a critical webhook, ``critical`` is just main).

Modes act on what is routine. ``quiet`` holds a kind's INFO alerts only: a WARNING of a
quiet kind (an unusual case, e.g. a reconciliation that is not clean) comes at once.
``off`` drops a kind's INFO and WARNING alerts. A CRITICAL alert is never held or dropped:
CRITICAL means the trader must act (the severity table in :mod:`skimd.domain.alerts`), so
a quiet or off ``guard_tripped`` still sends the daily loss cap at once.

Kinds without a configured rule follow :data:`DEFAULT_RULES`: the routine kinds a trader
does not act on are quiet, everything else is on. A configured rule replaces the default
of its kind only.

The main webhook also drops alerts below its ``min_severity`` (``discord_min_severity``).
The mode applies on every webhook the kind goes to. A quiet digest itself is always sent
(it is what the policy produced); a burst of ``candidate_found`` rows that the sender
coalesces into one candidate digest follows the rule of ``candidate_found``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from skimd.domain.alerts import ALERT_TYPES, Alert, CandidateDigest, QuietDigest, Severity


class Mode(StrEnum):
    ON = "on"
    QUIET = "quiet"
    OFF = "off"


class Route(StrEnum):
    MAIN = "main"
    CRITICAL = "critical"


class Disposition(StrEnum):
    """What one channel does with one alert."""

    SEND = "send"  # deliver it now
    HOLD = "hold"  # keep it for the channel's next quiet digest
    SKIP = "skip"  # not for this channel (off, routed elsewhere, below its severity)


@dataclass(frozen=True, slots=True)
class KindRule:
    mode: Mode = Mode.ON
    route: Route | None = None  # None: main, plus the critical webhook when CRITICAL


DEFAULT_RULE = KindRule()

_QUIET = KindRule(Mode.QUIET)
DEFAULT_RULES: Mapping[str, KindRule] = {
    "candidate_found": _QUIET,  # the tradeable-candidate alert (with its chart) is the one
    "late_candidates": _QUIET,  # found after the entry window: nothing to do today
    "guard_tripped": _QUIET,  # normal limits; an operator's lock warns, the loss cap is critical
    "order_placed": _QUIET,  # a stop moved on a held position; refusals are their own kind
    "reconciliation_digest": _QUIET,  # clean; one that is not clean is a warning: at once
}
"""The rule of each kind a config does not name: routine kinds are quiet."""


SENDER_BUILT = frozenset({CandidateDigest.kind, QuietDigest.kind})
"""Kinds the outbox sender makes from the rows it sends, never queued themselves: a rule
names the rows' kinds (``candidate_found`` for a burst of candidates)."""


def configurable_kinds() -> list[str]:
    """Every alert kind a rule may name: all registered kinds but :data:`SENDER_BUILT`."""
    return [kind for kind in ALERT_TYPES if kind not in SENDER_BUILT]


@dataclass(frozen=True)
class AlertPolicy:
    """The rules, and which notifiers (by name) are phone channels on which route.

    The default policy (no channels) sends everything everywhere: a sender built without a
    policy behaves as before it existed."""

    channels: Mapping[str, Route] = field(default_factory=dict)
    kinds: Mapping[str, KindRule] = field(default_factory=dict)
    main_min_severity: Severity = Severity.INFO
    defaults: Mapping[str, KindRule] = field(default_factory=lambda: DEFAULT_RULES)

    def __post_init__(self) -> None:
        known = set(configurable_kinds())
        unknown = sorted(k for k in self.kinds if k not in known)
        if unknown:
            raise ValueError(f"alert policy names unknown alert kinds: {', '.join(unknown)}")

    def rule(self, kind: str) -> KindRule:
        """The configured rule of ``kind``, else its :data:`DEFAULT_RULES` entry, else on."""
        return self.kinds.get(kind) or self.defaults.get(kind, DEFAULT_RULE)

    def is_phone(self, notifier: str) -> bool:
        return notifier in self.channels

    def disposition(self, notifier: str, alert: Alert) -> Disposition:
        channel = self.channels.get(notifier)
        if channel is None or isinstance(alert, QuietDigest):
            return Disposition.SEND
        rule = self.rule(alert.kind)
        if not self._routed(channel, rule.route, alert):
            return Disposition.SKIP
        if rule.mode is Mode.OFF and alert.severity is not Severity.CRITICAL:
            return Disposition.SKIP
        if rule.mode is Mode.QUIET and alert.severity is Severity.INFO:
            return Disposition.HOLD
        return Disposition.SEND  # on; or unusual (quiet) / must act (quiet or off)

    def _routed(self, channel: Route, route: Route | None, alert: Alert) -> bool:
        if channel is Route.MAIN:
            return alert.severity.rank >= self.main_min_severity.rank
        if route is None:
            return alert.severity is Severity.CRITICAL
        return route is Route.CRITICAL
