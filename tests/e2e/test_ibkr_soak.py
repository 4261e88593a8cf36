"""The IBKR soak, short: one trading day of the real daemon (the supervisor and job table of
``skimd run``) with the IBKR broker against the fake IBKR, every fault once (a dropped
order answer, 5xx bursts, another login holding the session for five minutes, a forced LST
renewal, slow answers, a session reset). ``bench/ibkr_soak.py`` runs five days.

The day is run once per module; each test asserts one invariant of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.ibkr_soak_days import SoakPlan, SoakReport, run_soak
from tests.fakes.ibkr_faults import FaultKind

ZONE = ZoneInfo("Australia/Sydney")

DAY = date(2026, 11, 24)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoakReport]:
    data: Path = tmp_path_factory.mktemp("soak") / "data"
    yield asyncio.run(run_soak(data, SoakPlan(days=(DAY,), one_day=True)))


def test_every_fault_was_injected_and_the_daemon_stopped_cleanly(soak: SoakReport) -> None:
    (day,) = soak.days
    # every fault of the REST side; the websocket's (ws_drop) needs a socket the soak's
    # in-process transport does not have (see ibkr_soak_days.settings_for)
    rest = {k.value for k in FaultKind if k is not FaultKind.WS_DROP}
    assert set(day.faults) == rest, day.faults
    assert soak.exit_code == 0


def test_the_day_traded_under_the_faults(soak: SoakReport) -> None:
    (day,) = soak.days
    assert day.entries > 0 and day.exits > 0, day
    assert day.lst_renewals >= 1  # the forced expiry made the client derive a new LST


def test_no_client_order_id_reached_the_fake_twice(soak: SoakReport) -> None:
    (day,) = soak.days
    assert day.duplicate_coids == 0
    assert soak.duplicate_client_order_ids == 0


def test_no_position_was_unprotected_after_any_watch_poll(soak: SoakReport) -> None:
    (day,) = soak.days
    assert soak.check.polls > 1000  # the check ran through the session
    assert soak.check.lapses == [], soak.check.lapses[:5]
    assert day.unprotected_s == 0


def test_the_session_was_reinitialised_after_every_renewal_and_reset(soak: SoakReport) -> None:
    (day,) = soak.days
    assert day.without_reinit == []
    assert day.reinits >= 1


def test_no_request_drew_a_429(soak: SoakReport) -> None:
    (day,) = soak.days
    assert day.rate_limited == 0


def test_status_shows_the_session_and_its_last_renewal_from_the_brokers_own_events(
    soak: SoakReport,
) -> None:
    renewals = [e for e in soak.events.events if e.kind == "session_renewed"]
    assert len(renewals) >= 2  # the first token, then the forced renewal
    broker = soak.status["broker"]
    assert broker["kind"] == "ibkr"
    # the daemon stopped: its last state is shown as that, never as now
    assert broker["current"] is False and broker["daemon_stopped_at"] is not None
    assert broker["last_recorded_state"] == "authenticated"
    last = renewals[-1].until
    assert last is not None
    assert broker["renewal_expires_at"] == last.astimezone(ZONE).isoformat()
    assert broker["last_renewal"] is not None
    assert "last renewal " in broker["session"]
