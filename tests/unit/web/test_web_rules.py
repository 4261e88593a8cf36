"""The password file (Argon2id, 0600) and where ``skimd web`` may listen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from skimd.commands.web import require_web_extra
from skimd.errors import ConfigurationError, InvalidInputError
from skimd.web.passwords import PasswordFile
from skimd.web.server import Listen, check_bind, is_loopback

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_the_password_is_stored_as_an_argon2id_hash_in_a_0600_file(tmp_path: Path) -> None:
    store = PasswordFile(tmp_path / "web-password", FAST)
    store.set("correct horse battery")
    text = store.path.read_text()
    assert text.startswith("$argon2id$") and "correct horse" not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.verify("correct horse battery")
    assert not store.verify("correct horse batterY")
    store.check()


def test_a_new_password_replaces_the_old_one(tmp_path: Path) -> None:
    store = PasswordFile(tmp_path / "web-password", FAST)
    store.set("first password")
    store.set("second password")
    assert store.verify("second password") and not store.verify("first password")


def test_a_short_password_is_refused_and_nothing_written(tmp_path: Path) -> None:
    store = PasswordFile(tmp_path / "web-password", FAST)
    with pytest.raises(InvalidInputError, match="at least 10"):
        store.set("short")
    assert not store.exists() and not store.verify("short")


def test_serving_needs_a_private_password_file(tmp_path: Path) -> None:
    store = PasswordFile(tmp_path / "web-password", FAST)
    with pytest.raises(ConfigurationError, match=r"\[web\] password_file: no password set"):
        store.check()
    store.set("correct horse battery")
    store.path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="must be 0600"):
        store.check()


def test_a_damaged_hash_never_verifies(tmp_path: Path) -> None:
    path = tmp_path / "web-password"
    path.write_text("not a hash\n")
    assert not PasswordFile(path, FAST).verify("not a hash")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_served_without_tls(host: str) -> None:
    assert is_loopback(host)
    check_bind(Listen(host, 8750), "skimd.toml")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "desk.example"])
def test_any_other_address_needs_tls(host: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        check_bind(Listen(host, 8750), "skimd.toml")
    assert str(refused.value).startswith("skimd.toml: [web] host:")
    assert "\n" not in str(refused.value)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    check_bind(Listen(host, 8750, cert, key), "skimd.toml")


def test_tls_needs_both_files_and_they_must_exist(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("cert")
    with pytest.raises(ConfigurationError, match=r"\[web\] tls_key_file: missing"):
        check_bind(Listen("127.0.0.1", 8750, cert, None), "skimd.toml")
    with pytest.raises(ConfigurationError, match=r"\[web\] tls_key_file: .* not found"):
        check_bind(Listen("127.0.0.1", 8750, cert, tmp_path / "none.pem"), "skimd.toml")


def test_a_venv_without_the_web_extra_gets_one_line_naming_what_is_missing() -> None:
    require_web_extra(("starlette", "jinja2"))  # present in the test venv: no error
    with pytest.raises(ConfigurationError) as caught:
        require_web_extra(("starlette", "skimd_no_such_web_package"))
    message = str(caught.value)
    assert "skimd_no_such_web_package" in message and "starlette" not in message.split(":")[-1]
    assert "\n" not in message and "[web]" in message
