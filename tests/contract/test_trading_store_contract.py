"""The trading store contract: the in-memory fake (tests/fakes/trading_store.py) and the real
``SqlTradingStore`` on an SQLite file must answer every test here alike, so unit tests on
the fake say something about the daemon."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from skimd.config import DatabaseSettings, PathSettings, Settings
from skimd.domain.alerts import GuardKind, GuardTripped
from skimd.domain.broker_session import SessionRecord, SessionState
from skimd.domain.control import ControlRecord, FlattenRequest, TickerPause
from skimd.domain.market import Bar
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PlanRecord,
    PositionRecord,
    PositionStatus,
)
from skimd.errors import IntegrityError
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.trading_store import SqlTradingStore
from skimd.services.ports.trading import TradingStore
from tests.fakes.trading_store import FakeTradingStore

SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 10:30 in Sydney on DAY


class Boom(Exception):
    pass


def _settings(data_dir: Path) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="off",
            passphrase=SecretStr("store contract"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("store-template")
    open_trading_database(_settings(data_dir), create=True).close()
    return data_dir


@pytest.fixture(params=["fake", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[TradingStore]:
    if request.param == "fake":
        yield FakeTradingStore()
        return
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    db = open_trading_database(_settings(data_dir), create=False)
    yield SqlTradingStore(db.unit_of_work)
    db.close()


def _candidate(ticker: str, day: date = DAY, **extra: object) -> CandidateRecord:
    return CandidateRecord(scan_date=day, ticker=ticker, **extra)  # type: ignore[arg-type]


def _position(ticker: str, **extra: object) -> PositionRecord:
    return PositionRecord(
        ticker=ticker,
        qty=100,
        avg_price=Decimal("2.5"),
        entry_date=DAY,
        opened_at=NOW,
        **extra,  # type: ignore[arg-type]
    )


def _intent(coid: str, *, at: datetime = NOW, **extra: object) -> IntentRecord:
    return IntentRecord(
        client_order_id=coid,
        ticker="ABC",
        conid=1,
        side="BUY",
        qty=100,
        order_type="LMT",
        purpose=IntentPurpose.ENTRY,
        created_at=at,
        limit_price=Decimal("2.51"),
        **extra,  # type: ignore[arg-type]
    )


def _alert(detail: str = "x") -> GuardTripped:
    return GuardTripped(occurred_at=NOW, guard=GuardKind.KILL_SWITCH, detail=detail)


# -- units of work ----------------------------------------------------------------------------


def test_a_committed_write_is_read_back(store: TradingStore) -> None:
    with store.transaction() as tx:
        saved = tx.save_candidate(_candidate("ABC", conid=7), NOW)
    assert saved.id is not None
    with store.read() as tx:
        assert tx.candidate(DAY, "ABC") == saved
        assert tx.candidate_by_id(saved.id) == saved


def test_a_transaction_that_raises_leaves_nothing_behind(store: TradingStore) -> None:
    with pytest.raises(Boom), store.transaction() as tx:
        tx.save_candidate(_candidate("ABC"), NOW)
        tx.save_position(_position("ABC"))
        tx.add_intent(_intent("C-1"))
        tx.lock_guard("stop", NOW)
        assert tx.alert(_alert(), dedup_key="k")
        tx.save_bars([Bar("ABC", DAY, Decimal(1), Decimal(2), Decimal(1), Decimal(2), 10)])
        raise Boom
    with store.read() as tx:
        assert tx.candidates(DAY) == []
        assert tx.open_positions() == []
        assert tx.intent("C-1") is None
        assert not tx.guard().locked
        assert tx.daily_bars("ABC", DAY, DAY) == []
    with store.transaction() as tx:
        assert tx.alert(_alert(), dedup_key="k"), "the rolled-back alert was never queued"


def test_writes_inside_a_read_are_never_kept(store: TradingStore) -> None:
    with store.read() as tx:
        tx.save_candidate(_candidate("ABC"), NOW)
    with store.read() as tx:
        assert tx.candidate(DAY, "ABC") is None


def test_generation_moves_with_each_commit_only(store: TradingStore) -> None:
    before = store.generation
    with store.read() as tx:
        tx.guard()
    assert store.generation == before
    with pytest.raises(Boom), store.transaction():
        raise Boom
    assert store.generation == before
    with store.transaction() as tx:
        tx.lock_guard("x", NOW)
    assert store.generation != before


# -- candidates -------------------------------------------------------------------------------


def test_save_candidate_upserts_by_day_and_ticker(store: TradingStore) -> None:
    with store.transaction() as tx:
        first = tx.save_candidate(_candidate("ABC", gap_pct=Decimal("5.5")), NOW)
        again = tx.save_candidate(first.with_(gap_pct=Decimal("6"), orh=Decimal("2.6")), NOW)
        other_day = tx.save_candidate(_candidate("ABC", DAY + timedelta(days=1)), NOW)
    assert again.id == first.id and other_day.id != first.id
    assert again.gap_pct == Decimal("6") and again.orh == Decimal("2.6")
    with store.read() as tx:
        assert tx.candidates(DAY) == [again]


def test_candidates_keep_the_order_found_and_filter_by_state(store: TradingStore) -> None:
    with store.transaction() as tx:
        b = tx.save_candidate(_candidate("BBB"), NOW)
        a = tx.save_candidate(_candidate("AAA", status=CandidateState.TRADEABLE), NOW)
        c = tx.save_candidate(_candidate("CCC", status=CandidateState.SKIPPED), NOW)
        tx.save_candidate(_candidate("DDD", DAY - timedelta(days=1)), NOW)
    with store.read() as tx:
        assert [x.ticker for x in tx.candidates(DAY)] == ["BBB", "AAA", "CCC"]
        live = tx.candidates(DAY, [CandidateState.RANGING, CandidateState.TRADEABLE])
        assert live == [b, a]
        assert tx.candidates(DAY, [CandidateState.SKIPPED]) == [c]


def test_expire_candidates_moves_earlier_ranging_and_tradeable_only(store: TradingStore) -> None:
    yesterday = DAY - timedelta(days=1)
    with store.transaction() as tx:
        for ticker, status in [
            ("RNG", CandidateState.RANGING),
            ("TRD", CandidateState.TRADEABLE),
            ("ENT", CandidateState.ENTERED),
            ("SKP", CandidateState.SKIPPED),
        ]:
            tx.save_candidate(_candidate(ticker, yesterday, status=status), NOW)
        tx.save_candidate(_candidate("TODAY"), NOW)
        assert tx.expire_candidates(DAY, NOW) == 2
    with store.read() as tx:
        states = {c.ticker: c.status for c in tx.candidates(yesterday)}
        assert tx.candidate(DAY, "TODAY").status is CandidateState.RANGING  # type: ignore[union-attr]
    assert states == {
        "RNG": CandidateState.EXPIRED,
        "TRD": CandidateState.EXPIRED,
        "ENT": CandidateState.ENTERED,
        "SKP": CandidateState.SKIPPED,
    }


def test_purge_keeps_candidates_still_in_use(store: TradingStore) -> None:
    old = DAY - timedelta(days=40)
    with store.transaction() as tx:
        held = tx.save_candidate(_candidate("HELD", old, status=CandidateState.ENTERED), NOW)
        planned = tx.save_candidate(_candidate("PLAN", old, status=CandidateState.TRADEABLE), NOW)
        done = tx.save_candidate(_candidate("DONE", old, status=CandidateState.CLOSED), NOW)
        tx.save_candidate(_candidate("GONE", old, status=CandidateState.EXPIRED), NOW)
        tx.save_candidate(_candidate("NEW"), NOW)
        tx.save_position(_position("HELD", candidate_id=held.id))
        closed = tx.save_position(
            _position("DONE", candidate_id=done.id).reduce(100, NOW)  # closed: no hold
        )
        tx.save_plan(PlanRecord("PLAN", Decimal(3), Decimal(2), "active", planned.id), NOW)
    with store.transaction() as tx:
        assert tx.purge_candidates(DAY, 30) == 2
    with store.read() as tx:
        assert [c.ticker for c in tx.candidates(old)] == ["HELD", "PLAN"]
        assert tx.candidate(DAY, "NEW") is not None
        assert closed.id is not None
        assert tx.position(closed.id).candidate_id is None  # type: ignore[union-attr]


# -- positions --------------------------------------------------------------------------------


def test_positions_insert_update_and_close(store: TradingStore) -> None:
    with store.transaction() as tx:
        a = tx.save_position(_position("AAA", conid=1, stop=Decimal("2.3")))
        b = tx.save_position(_position("BBB"))
    assert a.id is not None and b.id is not None and a.id != b.id
    assert a.status is PositionStatus.OPEN
    with store.transaction() as tx:
        grown = tx.save_position(a.add_fill(100, Decimal("2.6")))
        closed = tx.save_position(b.close(NOW))
    assert grown == a.add_fill(100, Decimal("2.6"))
    assert closed.status is PositionStatus.CLOSED and closed.closed_at == NOW
    with store.read() as tx:
        assert tx.open_positions() == [grown]
        assert tx.open_position_for("AAA") == grown
        assert tx.open_position_for("BBB") is None
        assert tx.position(b.id) == closed


def test_saving_an_unknown_position_id_is_an_integrity_error(store: TradingStore) -> None:
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.save_position(_position("AAA", id=999))


# -- intents ----------------------------------------------------------------------------------


def test_add_intent_once_per_client_order_id(store: TradingStore) -> None:
    with store.transaction() as tx:
        added = tx.add_intent(_intent("C-1"))
    assert added.updated_at == NOW and added.status is IntentStatus.PENDING
    with store.read() as tx:
        assert tx.intent("C-1") == added
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.add_intent(_intent("C-1"))


def test_save_intent_records_progress_and_final_states_stay(store: TradingStore) -> None:
    later = NOW + timedelta(seconds=5)
    with store.transaction() as tx:
        tx.save_position(_position("ABC"))
        intent = tx.add_intent(_intent("C-1"))
        submitted = tx.save_intent(
            replace(intent, status=IntentStatus.SUBMITTED, broker_order_id="B1"), later
        )
        filled = tx.save_intent(
            replace(
                submitted,
                status=IntentStatus.FILLED,
                filled_qty=100,
                avg_fill_price=Decimal("2.51"),
                position_id=1,
                broker_order_id=None,  # None keeps the stored broker id
            ),
            later,
        )
    assert submitted.updated_at == later and submitted.broker_order_id == "B1"
    assert filled.broker_order_id == "B1" and filled.filled_qty == 100
    assert filled.avg_fill_price == Decimal("2.51") and filled.position_id == 1
    with store.transaction() as tx:
        assert tx.save_intent(filled, later).status is IntentStatus.FILLED  # repeating is fine
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.save_intent(replace(filled, status=IntentStatus.CANCELLED), later)
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.save_intent(_intent("NOPE"), later)


def test_intent_queries_keep_time_order(store: TradingStore) -> None:
    t = [NOW + timedelta(minutes=m) for m in range(4)]
    with store.transaction() as tx:
        cand = tx.save_candidate(_candidate("ABC"), NOW)
        pos = tx.save_position(_position("ABC"))
        second = tx.add_intent(_intent("C-2", at=t[1], candidate_id=cand.id))
        first = tx.add_intent(_intent("C-1", at=t[0], position_id=pos.id))
        done = tx.save_intent(replace(second, status=IntentStatus.FILLED, filled_qty=100), t[3])
        late = tx.add_intent(_intent("C-3", at=t[2], position_id=pos.id))
    with store.read() as tx:
        assert tx.open_intents() == [first, late]
        assert tx.intents_between(t[0], t[2]) == [first, done]
        assert tx.intents_updated_between(t[1], t[3] + timedelta(seconds=1)) == [late, done]
        assert pos.id is not None and cand.id is not None
        assert tx.intents_for_position(pos.id) == [first, late]
        assert tx.intents_for_candidate(cand.id) == [done]


# -- guard, session, alerts, prices -----------------------------------------------------------


def test_kill_switch_locks_and_unlocks(store: TradingStore) -> None:
    with store.read() as tx:
        assert not tx.guard().locked
    with store.transaction() as tx:
        locked = tx.lock_guard("trader said stop", NOW)
    assert locked.locked and locked.reason == "trader said stop" and locked.changed_at == NOW
    with store.transaction() as tx:
        unlocked = tx.unlock_guard(NOW + timedelta(minutes=1))
    assert not unlocked.locked and unlocked.reason is None
    with store.read() as tx:
        assert tx.guard() == unlocked


def test_control_actions_are_journaled_in_order_and_roll_back_with_their_work(
    store: TradingStore,
) -> None:
    with store.transaction() as tx:
        first = tx.record_control(ControlRecord(NOW, 1001, "trader", "pause", "BHP: news"))
        tx.record_control(ControlRecord(NOW, 0, "root", "guard lock", "halt"))
    assert first.id is not None
    with pytest.raises(Boom), store.transaction() as tx:
        tx.record_control(ControlRecord(NOW, 1001, "trader", "resume", "BHP"))
        raise Boom
    with store.read() as tx:
        actions = tx.control_actions()
        assert [(a.action, a.uid, a.name, a.at) for a in actions] == [
            ("pause", 1001, "trader", NOW),
            ("guard lock", 0, "root", NOW),
        ]
        assert [a.action for a in tx.control_actions(limit=1)] == ["guard lock"]


def test_a_ticker_pause_is_kept_once_and_lifted(store: TradingStore) -> None:
    pause = TickerPause("BHP", NOW, 1001, "trader", "results due")
    with store.transaction() as tx:
        assert tx.pause_ticker(pause) == pause
        again = TickerPause("BHP", NOW + timedelta(minutes=1), 0, "root", "again")
        assert tx.pause_ticker(again) == pause  # the first pause stands
        tx.pause_ticker(TickerPause("ABC", NOW, 1001, "trader", "why not"))
    with store.read() as tx:
        assert [p.ticker for p in tx.paused_tickers()] == ["ABC", "BHP"]
    with store.transaction() as tx:
        assert tx.resume_ticker("BHP") == pause
        assert tx.resume_ticker("BHP") is None
    with store.read() as tx:
        assert [p.ticker for p in tx.paused_tickers()] == ["ABC"]


def test_a_flatten_request_is_kept_once_per_position(store: TradingStore) -> None:
    with store.transaction() as tx:
        held = tx.save_position(_position("BHP"))
    assert held.id is not None
    request = FlattenRequest(held.id, "BHP", NOW, 1001, "trader", "news")
    with store.transaction() as tx:
        assert tx.request_flatten(request) == request
        later = replace(request, at=NOW + timedelta(minutes=1), reason="again")
        assert tx.request_flatten(later) == request
    with store.read() as tx:
        assert tx.flatten_requests() == [request]


def test_the_broker_session_round_trips(store: TradingStore) -> None:
    up = SessionRecord(
        state=SessionState.UP,
        at=NOW,
        since=NOW,
        renewed_at=NOW - timedelta(minutes=1),
        renewal_expires_at=NOW + timedelta(hours=24),
    )
    with store.read() as tx:
        assert tx.last_session() is None
    with store.transaction() as tx:
        tx.record_session(up)
    with store.read() as tx:
        assert tx.last_session() == up
    later = NOW + timedelta(minutes=5)
    lost = up.moved(
        later, state=SessionState.COMPETING, since=later, reason="another login",
        paused_until=later + timedelta(minutes=1),
    )
    with store.transaction() as tx:
        tx.record_session(lost)  # replaces the one before
    with store.read() as tx:
        assert tx.last_session() == lost


def test_alerts_are_queued_once_per_dedup_key(store: TradingStore) -> None:
    with store.transaction() as tx:
        assert tx.alert(_alert(), dedup_key="k")
        assert not tx.alert(_alert("again"), dedup_key="k")
        assert tx.alert(_alert()) and tx.alert(_alert())
    with store.transaction() as tx:
        assert not tx.alert(_alert(), dedup_key="k")


def test_bars_upsert_and_read_in_date_order(store: TradingStore) -> None:
    def bar(day: date, close: str) -> Bar:
        return Bar("ABC", day, Decimal(1), Decimal(3), Decimal(1), Decimal(close), 100)

    d = [DAY - timedelta(days=n) for n in (3, 2, 1)]
    with store.transaction() as tx:
        assert tx.save_bars([bar(d[2], "2"), bar(d[0], "1.5")]) == 2
        assert tx.save_bars([bar(d[2], "2.25"), bar(d[1], "1.75")]) == 2
        tx.save_bars([Bar("XYZ", d[1], Decimal(1), Decimal(1), Decimal(1), Decimal(1), 1)])
    with store.read() as tx:
        assert tx.closes("ABC", d[0], d[2]) == [
            (d[0], Decimal("1.5")),
            (d[1], Decimal("1.75")),
            (d[2], Decimal("2.25")),
        ]
        assert tx.daily_bars("ABC", d[1], DAY) == [bar(d[1], "1.75"), bar(d[2], "2.25")]
