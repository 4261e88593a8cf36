"""Start-up memory: `skimd run` on the demo config never loads what only some paths need
(alembic and its templating, Pillow, cryptography's Fernet, the holidays library, Discord's
requests stack, skimd web's Starlette, uvicorn and Jinja2). Checked in a fresh interpreter:
this test process has imported them all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# rich stands for the rich + pygments pair structlog would load. pygments itself is no
# longer listed: uvicorn (skimd web) installs click, and with click importable httpx's
# __init__ tries its command-line module, which imports click and pygments before failing on
# the missing rich. pygments is in this venv only for pytest (the production venv has
# none); click stays: about 1.2 MB RSS at start (measured), the price of uvicorn.
HEAVY = ("alembic", "mako", "rich", "PIL", "cryptography.fernet", "holidays", "requests",
         "starlette", "uvicorn", "jinja2")  # the last three: only `skimd web` serves pages

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
