"""Control protocol v1 on the wire: what a request must look like, and the replies."""

from __future__ import annotations

import json

import pytest

from skimd.errors import InvalidInputError
from skimd.infrastructure.control import protocol
from skimd.infrastructure.control.protocol import ProtocolError, Request, parse_request


def test_a_request_is_read_with_its_command_and_args() -> None:
    line = protocol.request("guard.lock", {"reason": "news"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_request(line) == Request("guard.lock", {"reason": "news"})


def test_args_may_be_left_out_or_null() -> None:
    assert parse_request(b'{"v": 1, "cmd": "status"}\n') == Request("status", {})
    assert parse_request(b'{"v": 1, "cmd": "status", "args": null}\n') == Request("status", {})


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (b"not json\n", "not a JSON object"),
        (b"[1, 2]\n", "not a JSON object"),
        (b"\xff\xfe\n", "not a JSON object"),
        (b'{"cmd": "status"}\n', "version None not supported"),
        (b'{"v": 2, "cmd": "status"}\n', "version 2 not supported"),
        (b'{"v": "1", "cmd": "status"}\n', "version '1' not supported"),
        (b'{"v": 1}\n', "no command"),
        (b'{"v": 1, "cmd": ""}\n', "no command"),
        (b'{"v": 1, "cmd": "jobs", "args": [1]}\n', "'args' must be an object"),
        (b'{"v": 1, "cmd": "jobs", "as": "root"}\n', "unknown field(s) as"),
    ],
)
def test_a_malformed_request_is_refused_by_name(line: bytes, named: str) -> None:
    with pytest.raises(ProtocolError, match=named.replace("(", r"\(").replace(")", r"\)")):
        parse_request(line)


def test_a_protocol_error_is_bad_input_with_its_exit_code() -> None:
    assert issubclass(ProtocolError, InvalidInputError)
    reply = json.loads(protocol.failure(ProtocolError("request has no command ('cmd')")))
    assert reply == {
        "v": 1,
        "ok": False,
        "error": "request has no command ('cmd')",
        "exit_code": 65,
    }


def test_an_error_reply_is_one_line_whatever_the_message_holds() -> None:
    raw = protocol.error("first\nsecond\r\n  third", 69)
    assert raw.count(b"\n") == 1
    assert json.loads(raw)["error"] == "first second third"


def test_results_carry_times_and_decimals_as_text() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    raw = protocol.ok({"at": datetime(2026, 11, 24, tzinfo=UTC), "price": Decimal("2.77")})
    reply = protocol.parse_reply(raw)
    assert reply["ok"] is True
    assert reply["result"] == {"at": "2026-11-24 00:00:00+00:00", "price": "2.77"}


def test_a_reply_of_another_version_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not control protocol v1"):
        protocol.parse_reply(b'{"v": 2, "ok": true}\n')
    with pytest.raises(ProtocolError, match="not JSON"):
        protocol.parse_reply(b"HTTP/1.1 400\n")
