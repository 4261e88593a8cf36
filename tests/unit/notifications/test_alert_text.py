"""The words every channel shows: one presenter per kind, and the same words, tables and
CSV as before the alert split (``tests/fixtures/alerts/alert_text_v1.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path

from skimd.domain.alert_tables import (
    candidate_table,
    reconciliation_csv,
    reconciliation_csv_name,
    reconciliation_table,
)
from skimd.domain.alert_text import AlertText, describe
from skimd.domain.alerts import ALERT_TYPES, Alert, CandidateDigest, ReconciliationDigest
from tests.fakes.alert_samples import one_of_each

SHOWN_V1 = Path(__file__).parents[2] / "fixtures" / "alerts" / "alert_text_v1.jsonl"


def test_every_kind_has_a_presenter_of_its_own() -> None:
    fallback = describe.dispatch(Alert)
    assert [k for k, cls in ALERT_TYPES.items() if describe.dispatch(cls) is fallback] == []


# Kinds whose words were changed on purpose since version 1 (issue 16: exits state net P&L,
# R, move and holding time; the daily summary counts round trips). Their words are tested
# in test_trade_alert_text.py.
REWORDED = {"position_exited", "daily_summary"}


def test_words_tables_and_csv_are_those_shown_before() -> None:
    shown = [json.loads(line) for line in SHOWN_V1.read_text(encoding="utf-8").splitlines()]
    samples = one_of_each()
    assert [s["kind"] for s in shown] == [a.kind for a in samples]
    for expected, alert in zip(shown, samples, strict=True):
        if alert.kind in REWORDED:
            assert describe(alert).summary != expected["summary"]
            continue
        details = tuple(tuple(pair) for pair in expected["details"])
        assert describe(alert) == AlertText(expected["title"], expected["summary"], details)
        if isinstance(alert, CandidateDigest):
            assert list(candidate_table(alert)) == expected["table"]
        if isinstance(alert, ReconciliationDigest):
            assert list(reconciliation_table(alert)) == expected["table"]
            assert list(reconciliation_table(alert, mismatches_only=True)) == (
                expected["mismatch_table"]
            )
            assert reconciliation_csv_name(alert) == expected["csv_name"]
            assert reconciliation_csv(alert) == expected["csv"]


def test_digest_table_has_a_row_per_candidate() -> None:
    digest = one_of_each()[2]
    assert isinstance(digest, CandidateDigest)
    rows = candidate_table(digest)
    assert rows[0].startswith("Symbol")
    assert len(rows) == 3 and all("+5.32%" in r for r in rows[1:])
