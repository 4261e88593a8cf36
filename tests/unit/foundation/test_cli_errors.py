"""Failure output of the CLI goes through the log redactor: no secret reaches stderr."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from skimd.cli import dispatch, main
from skimd.errors import EX_CONFIG, EX_SOFTWARE, DatabaseError
from skimd.logs import MASK, SecretRedactor

PASSPHRASE = "correct horse battery staple"
WEBHOOK = "https://discord.com/api/webhooks/123456/AbCdEf-secret-part"


def failing(exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def handler(_: argparse.Namespace) -> int:
        raise exc

    return handler


def run(
    handler: Callable[[argparse.Namespace], int], config: Path | str, *, debug: bool = False
) -> tuple[int, str]:
    err = io.StringIO()
    args = argparse.Namespace(config=str(config), debug=debug, handler=handler)
    return dispatch(handler, args, stderr=err), err.getvalue()


@pytest.fixture
def config(make_config: Callable[..., Path], clean_env: None) -> Path:
    return make_config(passphrase=PASSPHRASE)


def test_an_unexpected_error_naming_the_configured_passphrase_is_masked(config: Path) -> None:
    code, out = run(failing(RuntimeError(f"cannot open with key {PASSPHRASE!r}")), config)
    assert code == EX_SOFTWARE
    assert out == f"skimd: unexpected RuntimeError: cannot open with key '{MASK}'\n"


def test_a_skimd_error_keeps_its_exit_code_and_is_masked(config: Path) -> None:
    code, out = run(failing(DatabaseError(f"bad {PASSPHRASE} and {WEBHOOK}")), config)
    assert code == DatabaseError.exit_code
    assert PASSPHRASE not in out and "AbCdEf" not in out
    assert out.startswith("skimd: bad " + MASK)


def test_the_debug_traceback_is_masked_too(config: Path) -> None:
    def handler(_: argparse.Namespace) -> int:
        try:
            raise KeyError(PASSPHRASE)
        except KeyError as inner:
            raise ValueError(f"while handling {PASSPHRASE}") from inner

    code, out = run(handler, config, debug=True)
    assert code == EX_SOFTWARE
    assert "Traceback" in out and "KeyError" in out and "ValueError" in out
    assert PASSPHRASE not in out and MASK in out


def test_without_loadable_settings_the_shape_rules_still_apply(tmp_path: Path) -> None:
    message = f"POST {WEBHOOK}?wait=true failed; url was https://x.test/?token=abc123&a=1"
    code, out = run(failing(OSError(message)), tmp_path / "missing.toml")
    assert code == EX_SOFTWARE
    assert "AbCdEf" not in out and "abc123" not in out
    assert f"https://discord.com/api/webhooks/{MASK}" in out and f"token={MASK}&a=1" in out


def test_an_authorization_header_value_is_masked(tmp_path: Path) -> None:
    _, out = run(failing(RuntimeError("sent Authorization: Bearer eyJabc.def")), tmp_path / "x")
    assert "eyJabc" not in out and f"Authorization: {MASK}" in out


def test_config_errors_stay_readable(config: Path) -> None:
    message = f"{config}: [broker] kind: unknown broker 'x'; valid kinds: demo, ibkr"
    from skimd.errors import ConfigurationError

    code, out = run(failing(ConfigurationError(message)), config)
    assert (code, out) == (EX_CONFIG, f"skimd: {message}\n")


@pytest.fixture
def logging_redactor() -> Iterator[SecretRedactor]:
    """structlog configured with a redactor, as bootstrap.setup_logging does; restored after."""
    saved = structlog.get_config()
    redactor = SecretRedactor()
    structlog.configure(processors=[redactor, structlog.processors.KeyValueRenderer()])
    yield redactor
    structlog.configure(**saved)


def test_secrets_added_to_the_logging_redactor_at_run_time_are_masked(
    config: Path, logging_redactor: SecretRedactor
) -> None:
    logging_redactor.add("live-session-token-0123")
    code, out = run(failing(RuntimeError("token live-session-token-0123 refused")), config)
    assert code == EX_SOFTWARE and "live-session-token-0123" not in out and MASK in out


def test_a_run_time_secret_that_prefixes_the_passphrase_does_not_unmask_its_tail(
    config: Path, logging_redactor: SecretRedactor
) -> None:
    # the logging redactor knows a shorter secret that the configured passphrase starts
    # with: masking it first would leave "battery staple" readable
    logging_redactor.add("correct horse")
    code, out = run(failing(RuntimeError(f"cannot open with key {PASSPHRASE!r}")), config)
    assert code == EX_SOFTWARE
    assert out == f"skimd: unexpected RuntimeError: cannot open with key '{MASK}'\n"


def test_main_reports_a_failing_command_through_the_redactor(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `db verify` before `db init`: a real command failing; its line names no secret and
    # passes through unchanged (the redactor must not eat ordinary text).
    assert main(["db", "verify", "--config", str(config)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("skimd: database ") and "skimd db init" in err
