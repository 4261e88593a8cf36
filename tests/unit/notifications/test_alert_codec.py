"""The alert codec: JSON-safe payloads that round-trip, and payloads stored by earlier
versions (``tests/fixtures/alerts/outbox_payloads_v1.jsonl``) that still decode."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.domain.alerts import CandidateFound, OrderFilled, PositionExited
from skimd.domain.market import PricePoint, VolumePoint
from skimd.infrastructure.alert_codec import (
    PAYLOAD_VERSION,
    UnknownAlertKind,
    alert_from_json,
    alert_from_payload,
    to_payload,
)
from tests.fakes.alert_samples import T, every_kind, one_of_each

STORED_V1 = Path(__file__).parents[2] / "fixtures" / "alerts" / "outbox_payloads_v1.jsonl"


def test_every_kind_round_trips_through_json() -> None:
    for alert in every_kind():
        text = json.dumps(to_payload(alert))  # JSON-safe: no Decimal/datetime objects left
        back = alert_from_payload(json.loads(text))
        assert back == alert
        assert type(back) is type(alert)


def test_an_exit_round_trips_with_its_stop_path_and_volumes() -> None:
    (exited,) = [a for a in one_of_each() if isinstance(a, PositionExited)]
    steps = (
        PricePoint(at=T, price=Decimal("47.10")),
        PricePoint(at=T + timedelta(minutes=3), price=Decimal("47.35")),
    )
    volumes = (VolumePoint(at=T + timedelta(minutes=3), volume=12_500),)
    alert = dataclasses.replace(exited, stop_path=steps, volumes=volumes)
    payload = json.loads(json.dumps(to_payload(alert)))
    assert payload["data"]["stop_path"][1] == {"at": (T + timedelta(minutes=3)).isoformat(),
                                               "price": "47.35"}
    assert payload["data"]["volumes"] == [{"at": (T + timedelta(minutes=3)).isoformat(),
                                           "volume": 12_500}]
    assert alert_from_payload(payload) == alert


# Fields added (with defaults) to a kind after its version-1 payload was stored, as they
# encode at their defaults: the stored payload lacks them and decodes to the defaults.
GROWN_SINCE_V1 = {
    "broker_session_lost": {"paused": False, "retry_at": None, "positions": []},
    "position_exited": {"stop_path": [], "volumes": [], "fees": None, "initial_stop": None},
    "daily_summary": {
        "total_r": None,
        "unrated": 0,
        "candidates": None,
        "reconciliation_clean": None,
    },
    "tradeable_candidate": {"volumes": []},
    "job_failed": {"critical_after": 3},
    "guard_tripped": {"halted_by_daemon": False},
}


def test_payloads_stored_by_version_1_decode_and_encode_byte_for_byte() -> None:
    stored = STORED_V1.read_text(encoding="utf-8").splitlines()
    samples = one_of_each()
    assert len(stored) == len(samples)
    for text, sample in zip(stored, samples, strict=True):
        assert alert_from_json(text) == sample
        payload = to_payload(sample)
        grown = GROWN_SINCE_V1.get(sample.kind, {})
        assert {k: payload["data"].pop(k) for k in grown} == grown
        # The outbox repository's encoding of a payload (sorted keys, default separators).
        assert json.dumps(payload, default=str, sort_keys=True) == text


def test_payload_carries_kind_and_version() -> None:
    payload = to_payload(one_of_each()[0])
    assert (payload["kind"], payload["v"]) == ("candidate_found", PAYLOAD_VERSION)


def test_decimals_travel_as_strings_without_losing_precision() -> None:
    alert = one_of_each()[0]
    assert to_payload(alert)["data"]["gap_pct"] == "5.3215"
    back = alert_from_payload(to_payload(alert))
    assert isinstance(back, CandidateFound) and back.gap_pct == Decimal("5.3215")


def _fill_data() -> dict[str, object]:
    fill = OrderFilled(occurred_at=T, symbol="A", side="BUY", quantity=1, client_order_id="c",
                       price=Decimal(1))
    return dict(to_payload(fill)["data"])


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "from_the_future", "v": 2, "data": {}},
        {"data": {}},
        {"kind": "order_filled", "v": 1, "data": {"occurred_at": T.isoformat()}},
        {"kind": "order_filled", "v": 1, "data": {**_fill_data(), "price": 1.5}},  # a float
        {"kind": "order_filled", "v": 1, "data": {**_fill_data(), "quantity": True}},
    ],
)
def test_unknown_or_malformed_payloads_raise(payload: dict[str, object]) -> None:
    with pytest.raises(UnknownAlertKind):
        alert_from_payload(payload)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"order_filled"'])
def test_text_that_is_not_a_payload_object_raises(text: str) -> None:
    with pytest.raises(UnknownAlertKind):
        alert_from_json(text)


def test_a_field_added_later_takes_its_default_when_an_old_payload_lacks_it() -> None:
    data = _fill_data()
    del data["commission"]  # as if written before the field existed
    back = alert_from_payload({"kind": "order_filled", "v": 1, "data": data})
    assert isinstance(back, OrderFilled) and back.commission is None
