"""The shared TLS verify context: the system's hashed CA directory, loaded lazily, when
there is one; certifi's bundle otherwise; SSL_CERT_FILE / SSL_CERT_DIR as httpx honours
them. Verification itself is never relaxed."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi

from skimd.infrastructure.tls import system_ca_dir, verify_context


def _verifies(context: ssl.SSLContext) -> bool:
    return context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_without_settings_the_system_directory_is_used_lazily_else_certifi() -> None:
    context = verify_context({})
    assert _verifies(context)
    loaded = context.cert_store_stats()["x509_ca"]
    if system_ca_dir() is not None:
        assert loaded == 0  # OpenSSL reads a CA from the directory when a chain needs it
    else:
        assert loaded > 100  # certifi's bundle, parsed up front


def test_ssl_cert_file_and_dir_are_honoured(tmp_path: Path) -> None:
    from_file = verify_context({"SSL_CERT_FILE": certifi.where()})
    assert _verifies(from_file) and from_file.cert_store_stats()["x509_ca"] > 100
    from_dir = verify_context({"SSL_CERT_DIR": str(tmp_path)})
    assert _verifies(from_dir) and from_dir.cert_store_stats()["x509_ca"] == 0


def test_only_a_directory_with_hashed_entries_counts(tmp_path: Path) -> None:
    empty, hashed = tmp_path / "empty", tmp_path / "hashed"
    empty.mkdir()
    (empty / "README").write_text("no certificates here")
    hashed.mkdir()
    (hashed / "1a2b3c4d.0").write_text("a certificate would be here")
    missing = str(tmp_path / "missing")
    assert system_ca_dir([None, missing, str(empty)]) is None
    assert system_ca_dir([missing, str(empty), str(hashed)]) == hashed
