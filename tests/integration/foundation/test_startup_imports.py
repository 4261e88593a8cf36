"""Start-up memory: `skimd run` on the demo config never loads what only some paths need
(alembic and its templating, Pillow, cryptography at all, the holidays library, Discord's
requests stack, the stdlib sqlite3 driver beside sqlcipher3's, skimd web's Starlette,
Hypercorn and Jinja2, and click: with click importable, httpx's ``__init__`` would load
its command-line module; the websockets client, loaded when an IBKR quote stream first
connects), nor skimd's own modules that only a later job or a command uses
(:data:`LATER`: the bank statement parsers, the end-of-day report stack, the settling of an
interrupted restore or rekey). Checked in a fresh interpreter: this test process has
imported them all (or they are not installed, which passes as well)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = (
    "alembic", "mako", "pygments", "PIL", "cryptography", "holidays", "requests", "sqlite3",
    "starlette", "hypercorn", "jinja2", "click", "websockets",
)
# Imported where they are used (the import command, the end of day's report writer, a
# pending maintenance step), so the steady daemon does not hold them.
LATER = (
    "skimd.infrastructure.bank_import",
    "skimd.services.journal.reports",
    "skimd.services.journal.report_markdown",
    "skimd.infrastructure.database.report_store",
    "skimd.infrastructure.database.review_store",
    "skimd.infrastructure.notifications.charts",
    "skimd.infrastructure.notifications.report_charts",
    "skimd.domain.reviews",
    "skimd.infrastructure.database.restore",
    "skimd.infrastructure.database.rekey",
    "skimd.infrastructure.database.maintenance",
)

SCRIPT = textwrap.dedent(
    """
    import sys
    from skimd import bootstrap
    settings = bootstrap.settings_from({config!r}, {{"SKIMD__PATHS__DATA_DIR": {data!r}}})
    app = bootstrap.build(
        settings, access=bootstrap.Access.EXCLUSIVE, environ={{}}, create_database=True
    )
    assert app.supervisor.jobs.ids() and app.trading is not None
    assert app.control_server is not None
    print(sorted(m for m in {heavy!r} if m in sys.modules))
    print(sorted(m for m in {later!r} if m in sys.modules))
    """
)


@pytest.mark.slow
def test_the_daemon_starts_without_the_heavy_optional_modules(tmp_path: Path) -> None:
    script = SCRIPT.format(
        config=str(ROOT / "config" / "skimd.toml"),
        data=str(tmp_path / "data"),
        heavy=HEAVY,
        later=LATER,
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    heavy, later = done.stdout.strip().splitlines()[-2:]
    assert heavy == "[]"
    assert later == "[]"


def test_building_the_asx_news_feed_loads_no_page_reader() -> None:
    """The production daemon builds the feed at start; the page reader and the stdlib HTML
    parser come with the news job's first read."""
    script = textwrap.dedent(
        """
        import sys
        from zoneinfo import ZoneInfo
        import httpx
        from skimd.clock import SystemClock
        from skimd.infrastructure.news.asx_feed import AsxAnnouncementFeed
        AsxAnnouncementFeed(httpx.AsyncClient(), "https://example.invalid/", SystemClock(),
                            ZoneInfo("Australia/Sydney"))
        print(sorted(m for m in ("skimd.infrastructure.news.asx_page", "html.parser")
                     if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
