"""The demo broker's book file: exact round trip, format, atomic replace, refusals."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.orders import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from skimd.errors import ConfigurationError, FatalError
from skimd.infrastructure.brokers.demo.book_store import (
    FORMAT_VERSION,
    Book,
    BookOrder,
    BookStore,
    Holding,
)

SYD = ZoneInfo("Australia/Sydney")
D = Decimal


def store(path: Path, *, seed: int = 3, account: str = "DU-DEMO") -> BookStore:
    return BookStore(path, account_id=account, market_seed=seed, universe_size=40)


def sample_book() -> Book:
    placed = datetime(2025, 3, 4, 10, 30, 0, 123456, SYD)  # Sydney in, UTC out
    buy = BookOrder(
        seq=1,
        broker_order_id="17410448000001",
        request=OrderRequest("c-1", "BHP", 101, Side.BUY, 100, OrderType.MKT),
        placed_at=placed,
        eval_from=placed,
        expires_at=datetime(2025, 3, 4, 5, 0, tzinfo=UTC),
        status=OrderStatus.FILLED,
        filled_qty=100,
        avg_fill_price=D("6.78"),
    )
    stop = BookOrder(
        seq=2,
        broker_order_id="17410448000002",
        request=OrderRequest(
            "c-2", "BHP", 101, Side.SELL, 100, OrderType.STP, stop_price=D("6.640")
        ),
        placed_at=placed,
        eval_from=datetime(2025, 3, 4, 1, 2, 3, 456789, UTC),
        expires_at=None,
    )
    limit = BookOrder(
        seq=3,
        broker_order_id="17410448000003",
        request=OrderRequest(
            "c-3",
            "CBA",
            202,
            Side.BUY,
            5,
            OrderType.LMT,
            limit_price=D("0.001"),
            tif=TimeInForce.GTC,
        ),
        placed_at=placed,
        eval_from=placed,
        expires_at=None,
        status=OrderStatus.CANCELLED,
        message="cancelled by request",
    )
    fill = Fill("DEMO-17410448000001.1", "17410448000001", "c-1", "BHP", 101, Side.BUY,
                100, D("6.78"), D("6"), placed, "DU-DEMO")  # fmt: skip
    return Book(
        cash=D("99316.00"),
        next_seq=4,
        orders={o.broker_order_id: o for o in (buy, stop, limit)},
        holdings={101: Holding("BHP", 101, 100, D("6.8400"))},
        fills=[fill],
        subscribed={202, 101},
        as_of=datetime(2025, 3, 4, 1, 2, 3, tzinfo=UTC),
    )


def test_a_saved_book_loads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    book = sample_book()
    store(path).save(book)
    loaded = store(path).load()
    assert loaded == book
    assert loaded is not None and list(loaded.orders) == list(book.orders)  # order kept
    assert str(loaded.orders["17410448000002"].request.stop_price) == "6.640"  # exact digits


def test_the_file_is_versioned_private_json_with_decimal_strings_and_utc_times(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo-broker.json"
    store(path).save(sample_book())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["format"], data["version"]) == ("skimd-demo-broker-book", FORMAT_VERSION)
    assert data["market"] == {"seed": 3, "universe_size": 40}
    assert data["cash"] == "99316.00" and data["holdings"][0]["avg_cost"] == "6.8400"
    assert data["orders"][0]["placed_at"] == "2025-03-03T23:30:00.123456+00:00"
    assert data["orders"][1]["eval_from"] == "2025-03-04T01:02:03.456789+00:00"
    assert data["fills"][0]["price"] == "6.78"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["demo-broker.json"]  # no temp left


def test_each_save_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    book = sample_book()
    store(path).save(book)
    before = path.stat().st_ino
    book.cash = D("1.5")
    store(path).save(book)
    assert path.stat().st_ino != before  # renamed over, never rewritten in place
    loaded = store(path).load()
    assert loaded is not None and loaded.cash == D("1.5")


def test_no_file_means_no_book(tmp_path: Path) -> None:
    assert store(tmp_path / "absent.json").load() is None


def _mutate(data: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("version", 2, "format version 2, but this skimd reads version 1"),
        ("format", "other", "not a demo broker book"),
        ("market", {"seed": 4, "universe_size": 40}, "written for market"),
        ("account_id", "DU-OTHER", "written for account_id 'DU-OTHER'"),
        ("cash", "lots", "cash: 'lots' is not a decimal"),
        ("cash", 12.5, "cash: expected a string"),
        ("orders.1.eval_from", "2025-03-04T01:02:03", r"orders\[1\].eval_from: .*no time zone"),
        ("orders.0.status", "lost", r"orders\[0\].status: 'lost' is not a valid OrderStatus"),
        ("orders.2.qty", 0, r"orders\[2\]: order 'c-3' \(CBA\): qty must be positive"),
        ("fills.0.exec_id", _DELETE, r"fills\[0\].exec_id: missing"),
        ("next_seq", 3, "next_seq: not above every order's seq"),
        ("orders.1.client_order_id", "c-1", "appears twice"),
        ("subscribed", ["101"], "subscribed: expected a list of conids"),
    ],
)
def test_a_damaged_book_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, dotted: str, value: object, message: str
) -> None:
    path = tmp_path / "demo-broker.json"
    store(path).save(sample_book())
    data = json.loads(path.read_text(encoding="utf-8"))
    _mutate(data, dotted, value)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as info:
        store(path).load()
    text = str(info.value)
    assert str(path) in text and "\n" not in text and "fresh demo account" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "skimd-demo-broker-book", "vers', "not valid JSON"),
        (b"\xff\xfe garbage", "cannot be read"),
        (b"[1, 2]", "the top level: expected an object"),
    ],
)
def test_an_unparseable_book_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "demo-broker.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=message) as info:
        store(path).load()
    assert str(path) in str(info.value)


def test_an_unreadable_book_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    path.mkdir()  # unreadable as a file, whoever runs the test
    with pytest.raises(ConfigurationError, match="cannot be read"):
        store(path).load()


def test_a_failed_save_raises_fatal_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "demo-broker.json"
    path.mkdir()
    (path / "keep").write_text("x", encoding="utf-8")  # os.replace cannot replace it
    with pytest.raises(FatalError, match="cannot be written") as info:
        store(path).save(sample_book())
    assert str(path) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-broker.json"]
    with pytest.raises(FatalError, match="missing-dir"):
        store(tmp_path / "missing-dir" / "book.json").save(sample_book())
