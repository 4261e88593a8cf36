"""A demo day pointed at the loopback Discord server: every tradeable-candidate alert, every
settled entry and every exit alert arrives with its chart, a real PNG, attached to the
message that carries the alert (its embed shows it as ``attachment://<file>``)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.demo_runs import demo_config, run_demo
from tests.fakes.discord_server import FakeDiscord

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTED_KINDS = ("tradeable_candidate", "entry_settled", "position_exited")
# a console alert line: "10:16:30 INFO tradeable_candidate  IIP ORH ...", or an entry's
# "10:17:40 INFO entry_settled  Bought 5,555 VPL @ 2.85 · stop ..."
ALERT_LINE = re.compile(
    r"^\d\d:\d\d:\d\d (?:INFO|WARN|CRIT) (\w+)\s+(?:Bought [\d,]+ )?([A-Z0-9]+)\b"
)
CHART_FILE = re.compile(r"^(\w+?)-([A-Z0-9]+)-\d{8}T\d{6}\.png$")


@pytest.mark.slow
def test_every_candidate_entry_and_exit_alert_arrives_with_a_png_chart(tmp_path: Path) -> None:
    with FakeDiscord() as discord:
        config = demo_config(tmp_path / "demo")
        secret = tmp_path / "webhook"
        secret.write_text(discord.url, encoding="utf-8")
        secret.chmod(0o600)
        with config.open("a", encoding="utf-8") as f:
            f.write(f'\n[notifications]\ndiscord_webhook_url_file = "{secret}"\n')
        done = run_demo(config, "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        accepted = discord.accepted()
        assert discord.violations == []
    summary = json.loads(done.stdout)  # with --json stdout is the summary alone
    assert summary["alerts_delivered"] == summary["alerts"]

    # what the daemon alerted, by kind and symbol, from its console lines (on stderr)
    alerted: Counter[tuple[str, str]] = Counter()
    for line in done.stderr.splitlines():
        match = ALERT_LINE.match(line)
        if match and match.group(1) in CHARTED_KINDS:
            alerted[(match.group(1), match.group(2))] += 1
    assert {kind for kind, _ in alerted} == set(CHARTED_KINDS), done.stderr[-3000:]

    charted: Counter[tuple[str, str]] = Counter()
    for request in accepted:
        for upload in request.files:
            match = CHART_FILE.match(upload.filename)
            if not match or match.group(1) not in CHARTED_KINDS:
                continue
            charted[(match.group(1), match.group(2))] += 1
            assert upload.data.startswith(PNG_SIGNATURE)
            with Image.open(io.BytesIO(upload.data)) as image:
                image.load()
                assert image.format == "PNG" and image.width >= 600 and image.height >= 300
            images = [(e.get("image") or {}).get("url") for e in request.embeds]
            assert f"attachment://{upload.filename}" in images
    assert charted == alerted
