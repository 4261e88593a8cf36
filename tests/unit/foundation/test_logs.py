from __future__ import annotations

import io
import json

import structlog

from skimd.logs import MASK, SecretRedactor, configure_logging


def test_redactor_scrubs_known_values_keys_and_webhook_urls() -> None:
    stream = io.StringIO()
    redactor = SecretRedactor(["hunter2-passphrase"])
    configure_logging("INFO", "json", redactor, stream)
    redactor.add("LST-runtime-token")
    log = structlog.get_logger()
    log.info(
        "connecting with hunter2-passphrase",
        passphrase="anything",
        nested={"note": "token LST-runtime-token here", "items": ["hunter2-passphrase"]},
        url="https://discord.com/api/webhooks/1/SECRETPART",
        ticker="BHP",
    )
    line = stream.getvalue()
    assert "hunter2" not in line and "LST-runtime" not in line and "SECRETPART" not in line
    event = json.loads(line)
    assert event["passphrase"] == MASK
    assert event["ticker"] == "BHP"
    assert MASK in event["event"]


def test_stdlib_logs_are_redacted_too() -> None:
    import logging

    stream = io.StringIO()
    configure_logging("INFO", "json", SecretRedactor(["topsecretvalue"]), stream)
    logging.getLogger("some.lib").warning("failed with topsecretvalue")
    assert "topsecretvalue" not in stream.getvalue()
    assert MASK in stream.getvalue()
