"""Each command asks only for the secrets it uses (issue 15, part 2).

The operator's case: a production-like config (``[broker] kind = "ibkr"``, no secret in it)
whose secrets live only in the unit's credentials. ``status``, ``guard``, ``journal`` and
``db verify|backup`` need the database key alone; ``broker check`` the broker's secrets
alone; ``scan`` and ``run`` both. A command without a secret it needs fails with exit 78
and one line naming the systemd credential and the ``<key>_file`` key; ``config check``
lists every missing secret by name.

Secrets are given as systemd gives them: files in ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SystemClock
from skimd.errors import EX_CONFIG
from tests.conftest import TEST_KDF
from tests.fakes.ibkr_server import FakeIbkr, FakeIbkrKeys, FakeInstrument, serve_loopback
from tests.fakes.processes import base_env
from tests.integration.cli.conftest import cli

NEWS_PAGE = Path(__file__).resolve().parents[2] / "fixtures" / "news" / "asx_today_empty.html"

PASSPHRASE = "correct horse"  # the migrated data dir's (see conftest.migrated_data_dir)
DB_CREDENTIAL = "skimd-db-passphrase"
IBKR_MISSING = (
    "[ibkr] consumer_key is missing: provide the credential skimd-ibkr-consumer-key "
    '(a LoadCredentialEncrypted= line) or consumer_key_file = "<0600 file>"'
)
DB_MISSING = (
    "[database] passphrase is missing: provide the credential skimd-db-passphrase "
    '(a LoadCredentialEncrypted= line), passphrase_file = "<0600 file>" or $SKIMD_DB_PASSPHRASE'
)

# What needs only the database key (a daemon may run beside them).
DATABASE_ONLY: list[tuple[str, ...]] = [
    ("status", "--json"),
    ("guard", "status", "--json"),
    ("guard", "lock", "--reason", "operator"),
    ("guard", "unlock"),
    ("journal", "trades"),
    ("db", "verify"),
    ("db", "backup"),
]


def write_config(
    folder: Path,
    *,
    base_url: str = "http://127.0.0.1:9/v1/api",
    news_url: str = "http://127.0.0.1:9/news",
) -> Path:
    """Like config/skimd.production.toml: the ibkr broker and not one secret."""
    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    path = folder / "skimd.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{folder / "data"}"\n'
        f'[logging]\nformat = "json"\n'
        f'[supervisor]\nrun_for_s = 1.0\nshutdown_timeout_s = 5.0\n'
        f'[database]\nencryption = "sqlcipher"\n{kdf}\n'
        '[broker]\nkind = "ibkr"\n'
        f'[ibkr]\nbase_url = "{base_url}"\naccount_id = "DU1234567"\n'
        "snapshot_poll_interval_s = 0.0\n"
        f'[strategy]\nnews_url = "{news_url}"\n'
        '[notifications]\nconsole = false\n',
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def serve_news() -> AsyncIterator[str]:
    """Today's ASX announcements page (none today) on loopback; yields its URL."""
    today = datetime.now(ZoneInfo("Australia/Sydney")).date()
    page = NEWS_PAGE.read_text(encoding="utf-8")
    body = page.replace("23 November 2026", f"{today.day} {today:%B %Y}").encode("utf-8")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html;charset=UTF-8\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/asx/v2/statistics/todayAnns.do"
    finally:
        server.close()
        await server.wait_closed()


def fake_ibkr(keys: FakeIbkrKeys) -> FakeIbkr:
    fake = FakeIbkr(keys, clock=SystemClock())
    fake.add_instrument(
        FakeInstrument("BHP", 4036812, "BHP GROUP", Decimal("44.5"), last=Decimal("45.1"))
    )
    return fake


def ibkr_credentials(keys: FakeIbkrKeys, folder: Path) -> dict[str, str | bytes]:
    signature, encryption = keys.write_keys(folder)
    return {
        "skimd-ibkr-consumer-key": keys.consumer_key,
        "skimd-ibkr-access-token": keys.access_token,
        "skimd-ibkr-access-token-secret": keys.access_token_secret_b64,
        "skimd-ibkr-dh-prime": format(keys.dh_prime, "x"),
        "skimd-ibkr-signature-key": signature.read_bytes(),
        "skimd-ibkr-encryption-key": encryption.read_bytes(),
    }


@pytest.fixture
def credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> Callable[[dict[str, str | bytes]], Path]:
    """Set ``$CREDENTIALS_DIRECTORY`` to a folder holding exactly the given credentials
    (0400, as systemd makes them)."""

    def give(values: dict[str, str | bytes]) -> Path:
        folder = tmp_path / "credentials"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        for name, value in values.items():
            path = folder / name
            if isinstance(value, bytes):
                path.write_bytes(value)
            else:
                path.write_text(value + "\n", encoding="utf-8")
            path.chmod(0o400)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
        return folder

    return give


@pytest.fixture
def production(tmp_path: Path, migrated_data_dir: Path) -> Path:
    """The production-like config over a migrated database keyed with PASSPHRASE."""
    shutil.copytree(migrated_data_dir, tmp_path / "data")
    return write_config(tmp_path)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def run_each(
    config: Path, commands: Iterable[tuple[str, ...]], capsys: pytest.CaptureFixture[str]
) -> list[tuple[tuple[str, ...], int, str, str]]:
    results = []
    for args in commands:
        code = cli(config, *args)
        captured = capsys.readouterr()
        results.append((args, code, captured.out, captured.err))
    return results


def test_status_guard_journal_and_db_need_only_the_database_key_with_an_ibkr_config(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    credentials({DB_CREDENTIAL: PASSPHRASE})
    for args, code, out, err in run_each(production, DATABASE_ONLY, capsys):
        assert code == 0, (args, err)
        assert "missing" not in err, (args, err)
        assert PASSPHRASE not in out + err
    assert list((production.parent / "data" / "backups").glob("skimd-*.db"))


def test_without_the_database_key_they_fail_naming_its_credential(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    credentials({})
    for args, code, _out, err in run_each(production, DATABASE_ONLY, capsys):
        assert code == EX_CONFIG, (args, err)
        assert one_line(err) == f"skimd: {production}: {DB_MISSING}", args


def test_the_broker_secrets_do_not_open_the_database(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The IBKR credentials alone do not unlock ``status``: each part asks for its own."""
    credentials(ibkr_credentials(FakeIbkrKeys.generate(), production.parent))
    assert cli(production, "guard", "status") == EX_CONFIG
    assert one_line(capsys.readouterr().err) == f"skimd: {production}: {DB_MISSING}"


@pytest.mark.parametrize(
    "args", [("broker", "check"), ("scan",), ("run",)], ids=lambda a: " ".join(a)
)
def test_broker_check_scan_and_run_need_the_broker_secrets(
    args: tuple[str, ...],
    production: Path,
    credentials: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    credentials({DB_CREDENTIAL: PASSPHRASE})
    assert cli(production, *args) == EX_CONFIG
    assert one_line(capsys.readouterr().err) == f"skimd: {production}: {IBKR_MISSING}"


async def test_broker_check_works_with_the_broker_secrets_alone(
    tmp_path: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """No database key, no database: ``broker check`` uses the broker and nothing else."""
    keys = FakeIbkrKeys.generate()
    async with serve_loopback(fake_ibkr(keys)) as base_url:
        config = write_config(tmp_path, base_url=base_url)
        credentials(ibkr_credentials(keys, tmp_path))
        code = await asyncio.to_thread(cli, config, "broker", "check", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["quote"]["symbol"] == "BHP"
    assert keys.consumer_key not in captured.out + captured.err


async def test_scan_works_with_the_database_key_and_the_broker_secrets(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    keys = FakeIbkrKeys.generate()
    async with serve_loopback(fake_ibkr(keys)) as base_url, serve_news() as news_url:
        write_config(production.parent, base_url=base_url, news_url=news_url)
        credentials({DB_CREDENTIAL: PASSPHRASE, **ibkr_credentials(keys, production.parent)})
        code = await asyncio.to_thread(cli, production, "scan", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert isinstance(json.loads(captured.out), dict)
    assert PASSPHRASE not in captured.out + captured.err


@pytest.mark.slow
async def test_run_works_with_the_database_key_and_the_broker_secrets(
    production: Path, credentials: Callable[..., Path]
) -> None:
    """The daemon as a child process (it installs signal handlers), secrets from
    ``$CREDENTIALS_DIRECTORY`` only; ``[supervisor] run_for_s`` stops it after a second."""
    keys = FakeIbkrKeys.generate()
    async with serve_loopback(fake_ibkr(keys)) as base_url, serve_news() as news_url:
        write_config(production.parent, base_url=base_url, news_url=news_url)
        folder = credentials(
            {DB_CREDENTIAL: PASSPHRASE, **ibkr_credentials(keys, production.parent)}
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "skimd", "--config", str(production), "run",
            env={**base_env(), "CREDENTIALS_DIRECTORY": str(folder)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = (out + err).decode()
    assert proc.returncode == 0, text
    assert "run_for_s elapsed" in text
    assert PASSPHRASE not in text and keys.consumer_key not in text


def test_run_refuses_an_unusable_optional_webhook_it_would_use(
    production: Path,
    credentials: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Optional secrets are read when the notifier is built: one configured but open to
    others stops ``run`` (it would be used), not ``status`` (it would not)."""
    hook = tmp_path / "hook"
    hook.write_text("https://discord.com/api/webhooks/1/secret-part\n", encoding="utf-8")
    hook.chmod(0o644)
    with production.open("a", encoding="utf-8") as f:
        f.write(f'discord_webhook_url_file = "{hook}"\n')
    given = ibkr_credentials(FakeIbkrKeys.generate(), tmp_path)
    credentials({DB_CREDENTIAL: PASSPHRASE, **given})
    assert cli(production, "status") == 0
    capsys.readouterr()
    assert cli(production, "run") == EX_CONFIG
    err = one_line(capsys.readouterr().err)
    assert err == f"skimd: {hook}: secret file mode is 0644; it must be 0600 or 0400"


def test_config_check_names_every_missing_secret_and_fails(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    credentials({})
    assert cli(production, "config", "check") == EX_CONFIG
    captured = capsys.readouterr()
    err = one_line(captured.err)
    required = [
        "[database] passphrase",
        "[ibkr] consumer_key",
        "[ibkr] access_token",
        "[ibkr] access_token_secret",
        "[ibkr] dh_prime",
        "[ibkr] signature_key_file",
        "[ibkr] encryption_key_file",
    ]
    assert err.startswith(f"skimd: {production}: 7 secret(s) missing or unusable: ")
    assert all(name in err for name in required)
    assert "config ok" not in captured.out
    secrets = captured.out.split("[secrets]\n", 1)[1].splitlines()
    for credential in (
        "skimd-db-passphrase",
        "skimd-ibkr-consumer-key",
        "skimd-ibkr-access-token",
        "skimd-ibkr-access-token-secret",
        "skimd-ibkr-dh-prime",
        "skimd-ibkr-signature-key",
        "skimd-ibkr-encryption-key",
    ):
        (line,) = [s for s in secrets if f"the credential {credential} " in s]
        assert ": required, MISSING: provide the credential" in line
    assert "  [database] passphrase: required, MISSING: " + DB_MISSING.split(": ", 1)[1] in secrets
    optional = [s for s in secrets if ": optional, " in s]
    # the three alert channels and the web view's session secret
    assert len(optional) == 4 and all("not set (credential skimd-" in s for s in optional)


def test_config_check_json_lists_each_secret_with_its_source(
    production: Path, credentials: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    credentials({DB_CREDENTIAL: PASSPHRASE})
    assert cli(production, "config", "check", "--json") == EX_CONFIG
    data = json.loads(capsys.readouterr().out)
    by_setting = {s["setting"]: s for s in data["secrets"]}
    db = by_setting["[database] passphrase"]
    assert db["source"] == "credential skimd-db-passphrase" and db["problem"] is None
    assert data["database"]["passphrase"] == "**********"
    assert by_setting["[ibkr] consumer_key"]["problem"] == IBKR_MISSING
    assert by_setting["[notifications] heartbeat_url"] == {
        "setting": "[notifications] heartbeat_url",
        "credential": "skimd-heartbeat-url",
        "used_by": "notifications",
        "required": False,
        "source": None,
        "problem": None,
    }
    assert PASSPHRASE not in json.dumps(data)
