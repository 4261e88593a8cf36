"""Start-up memory: `skimd run` on the demo config never loads what only some paths need
(alembic and its templating, Pillow, cryptography at all, the holidays library, Discord's
requests stack, the stdlib sqlite3 driver beside sqlcipher3's, skimd web's Starlette,
Hypercorn and Jinja2, and click: with click importable, httpx's ``__init__`` would load
its command-line module). Checked in a fresh interpreter: this test process has imported
them all (or they are not installed, which passes as well)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = (
    "alembic", "mako", "pygments", "PIL", "cryptography", "holidays", "requests", "sqlite3",
    "starlette", "hypercorn", "jinja2", "click",
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
    print(sorted(m for m in {heavy!r} if m in sys.modules))
    """
)


@pytest.mark.slow
def test_the_daemon_starts_without_the_heavy_optional_modules(tmp_path: Path) -> None:
    script = SCRIPT.format(
        config=str(ROOT / "config" / "skimd.toml"), data=str(tmp_path / "data"), heavy=HEAVY
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
    assert done.stdout.strip().splitlines()[-1] == "[]"
