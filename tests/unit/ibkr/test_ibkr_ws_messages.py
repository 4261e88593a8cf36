"""IBKR websocket frames: building what we send, reading what IBKR sends, merging deltas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from skimd.errors import InvalidInputError
from skimd.infrastructure.brokers.ibkr import ws_messages as wm
from skimd.infrastructure.brokers.ibkr.quote_stream import WsEndpoint, ws_url

NOW = datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_subscribe_frame_sends_the_snapshot_fields_as_json_strings() -> None:
    frame = wm.subscribe_frame(8314)
    topic, conid, args = frame.split("+", 2)
    assert (topic, conid) == ("smd", "8314")
    assert json.loads(args) == {"fields": list(wm.STREAM_FIELDS)}
    assert all(isinstance(f, str) for f in json.loads(args)["fields"])
    assert wm.subscribe_frame(8314, ["31", 84]) == 'smd+8314+{"fields":["31","84"]}'


def test_unsubscribe_tic_and_session_frames() -> None:
    assert wm.unsubscribe_frame(8314) == "umd+8314+{}"
    assert wm.TIC == "tic"
    assert json.loads(wm.session_frame("abc")) == {"session": "abc"}


def test_reads_ibkrs_documented_market_data_push() -> None:
    raw = ('{"31":"189.60","6119":"q2","6509":"RpB","84":"189.56","86":"189.61",'
           '"_updated":1712596911593,"conid":8314,"conidEx":"8314","server_id":"q2",'
           '"topic":"smd+8314"}')
    message = wm.parse(raw)
    assert message == wm.MarketData(
        8314, {"31": "189.60", "84": "189.56", "86": "189.61", "_updated": 1712596911593})


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"topic":"system","hb":1712596911593}', wm.Heartbeat(1712596911593)),
    ('{"topic":"system","success":"user123","isFT":false,"isPaper":true}', wm.Greeting()),
    ('{"topic":"sts","args":{"authenticated":true}}', wm.AuthStatus(True)),
    ('{"topic":"sts","args":{"authenticated":false,"competing":true}}',
     wm.AuthStatus(False, competing=True)),
    ('{"message":"waiting for session"}', wm.WaitingForSession()),
    ('{"topic":"smd+8314","error":"Exceeded market data lines limit"}',
     wm.ServerError("Exceeded market data lines limit", 8314)),
    ('{"topic":"tic","alive":true,"lastAccessed":1}', wm.Other("tic")),
    ('{"topic":"sts","args":{"serverName":"x"}}', wm.Other("sts")),
    ('{"topic":"smd+","31":"1"}', wm.Other("smd+")),
    ("not json \x99", wm.Other("not json \x99")),
    (b"\xff\xfe", wm.Other("\ufffd\ufffd")),
    ("[1,2]", wm.Other("?")),
])
def test_reads_session_messages_and_never_raises(raw: str | bytes, expected: wm.Message) -> None:
    assert wm.parse(raw) == expected


def test_the_conid_comes_from_the_topic_when_the_body_has_none() -> None:
    assert wm.parse('{"topic":"smd+8314@ASX","31":"1.5"}') == wm.MarketData(8314, {"31": "1.5"})


def test_deltas_merge_into_a_whole_quote() -> None:
    book = wm.QuoteBook({8314: "IBM"})
    first = book.apply(wm.MarketData(8314, {"31": "189.60", "84": "189.56", "86": "189.61",
                                            "7741": "188.00", "7762": "1000",
                                            "_updated": 1712596911593}), NOW)
    assert first is not None and first.last == Decimal("189.60")
    later = book.apply(wm.MarketData(8314, {"31": "C189.70", "_updated": 1712596912593}), NOW)
    assert later is not None
    assert (later.symbol, later.last, later.bid, later.ask, later.prev_close, later.volume) == (
        "IBM", Decimal("189.70"), Decimal("189.56"), Decimal("189.61"), Decimal("188.00"), 1000)
    assert later.at == datetime.fromtimestamp(1712596912.593, UTC)


def test_a_housekeeping_only_message_is_no_quote() -> None:
    book = wm.QuoteBook()
    assert book.apply(wm.MarketData(8314, {"_updated": 1}), NOW) is None
    assert book.take() == []


def test_a_burst_conflates_to_the_latest_quote_per_conid() -> None:
    book = wm.QuoteBook()
    for price in ("1.00", "1.01", "1.02"):
        book.apply(wm.MarketData(1, {"31": price}), NOW)
    book.apply(wm.MarketData(2, {"31": "5.00", "55": "XYZ"}), NOW)
    quotes = {q.conid: q for q in book.take()}
    assert set(quotes) == {1, 2}
    assert quotes[1].last == Decimal("1.02") and quotes[2].symbol == "XYZ"
    assert book.take() == [] and not book.pending


def test_dropped_conids_are_forgotten_and_a_new_connection_starts_from_nothing() -> None:
    book = wm.QuoteBook()
    book.apply(wm.MarketData(1, {"31": "1.00", "84": "0.99"}), NOW)
    book.apply(wm.MarketData(2, {"31": "2.00"}), NOW)
    book.keep_only({1})
    assert [q.conid for q in book.take()] == [1]
    book.reset_fields()
    quote = book.apply(wm.MarketData(1, {"31": "1.10"}), NOW)
    assert quote is not None and quote.bid is None  # no field of the old connection left


def test_ws_url_sits_beside_the_rest_base_and_the_endpoint_hides_its_token() -> None:
    assert ws_url("https://api.ibkr.com/v1/api/") == "wss://api.ibkr.com/v1/api/ws"
    assert ws_url("http://127.0.0.1:5000/v1/api") == "ws://127.0.0.1:5000/v1/api/ws"
    with pytest.raises(InvalidInputError):
        ws_url("ftp://x")
    endpoint = WsEndpoint("wss://api.ibkr.com/v1/api/ws", "SECRETTOKEN")
    assert "SECRETTOKEN" not in repr(endpoint) and "SECRETTOKEN" not in str(endpoint)
