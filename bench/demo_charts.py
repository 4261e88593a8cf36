"""Writes docs/alert-charts/: the charts one demo day delivers to Discord.

Runs ``skimd demo --seed 7 --date 2026-11-24`` as a real process (its own temporary data
dir, small Argon2 cost) with ``[notifications] discord_webhook_url_file`` pointing at the
loopback fake Discord from the test suite, and saves every PNG the fake accepted, named
``<HHMM market time>-<alert kind>-<symbol>.png`` (the attachment names carry UTC stamps).
The same day and seed give the same charts.

Run: ``python bench/demo_charts.py`` from the repository root.
"""

from __future__ import annotations

import re
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.demo_runs import demo_config, run_demo  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

OUT = ROOT / "docs" / "alert-charts"
ZONE = ZoneInfo("Australia/Sydney")
NAME = re.compile(r"^(\w+?)-([A-Z0-9]+)-(\d{8}T\d{6})\.png$")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeDiscord() as discord:
        folder = Path(tmp) / "demo"
        config = demo_config(folder)
        secret = Path(tmp) / "webhook"
        secret.write_text(discord.url, encoding="utf-8")
        secret.chmod(0o600)
        with config.open("a", encoding="utf-8") as f:
            f.write(f'\n[notifications]\ndiscord_webhook_url_file = "{secret}"\n')
        done = run_demo(config, "--seed", "7")
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.png"):
            old.unlink()
        for request in discord.accepted():
            for upload in request.files:
                match = NAME.match(upload.filename)
                if not match:
                    continue  # not a chart (the reconciliation CSV)
                kind, symbol, stamp = match.groups()
                at = datetime.strptime(stamp + "+0000", "%Y%m%dT%H%M%S%z").astimezone(ZONE)
                target = OUT / f"{at:%H%M}-{kind}-{symbol}.png"
                target.write_bytes(upload.data)
                print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
