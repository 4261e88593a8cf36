"""The README's deploy steps make a private data dir, and `skimd db init` (the next step)
keeps everything in it private, under the umask an operator's shell usually has."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from skimd.config import PROJECT_ROOT
from tests.conftest import TEST_KDF, write_private
from tests.integration.cli.conftest import cli


def deploy_mkdir_lines() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploy on /opt/skim", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines()
            if line.startswith("sudo mkdir")]


def test_the_readme_makes_the_data_dir_0700_and_db_init_keeps_it_private(
    tmp_path: Path, clean_env: None
) -> None:
    root = tmp_path / "opt-skim"
    lines = deploy_mkdir_lines()
    assert lines, "the README's deploy block makes its folders with mkdir"
    script = "\n".join(line.removeprefix("sudo ").replace("/opt/skim", str(root)) for line in lines)
    subprocess.run(["bash", "-ec", f"umask 0022\n{script}"], check=True)
    data = root / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for private in ("logs", "credentials"):
        assert stat.S_IMODE((root / private).stat().st_mode) == 0o700

    kdf = "\n".join(f"{k} = {v}" for k, v in TEST_KDF.items())
    secret = write_private(tmp_path / "db.passphrase", "correct horse battery")
    config = tmp_path / "skimd.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{data}"\n[database]\npassphrase_file = "{secret}"\n{kdf}\n',
        encoding="utf-8",
    )
    old = os.umask(0o022)
    try:
        assert cli(config, "db", "init") == 0
        assert cli(config, "db", "backup") == 0
    finally:
        os.umask(old)
    loose = {
        str(p): f"{stat.S_IMODE(p.stat().st_mode):04o}"
        for p in [data, *data.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}
