"""``systemd/skimd-admin`` builds its ``systemd-run`` command line from the unit file, so
the credentials an admin command gets are the daemon's; it refuses every other command.

No systemd is needed: ``--dry-run`` prints the command line, and the real path is run with
a recording ``systemd-run`` (and ``runuser``) first on ``PATH``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy.unit_file import ADMIN, UNIT, values

SHELLS = [s for s in ("sh", "dash", "bash") if shutil.which(s)]
REFUSED = [
    ["guard", "lock"],
    ["run"],
    ["demo"],
    ["db", "encrypt"],
    ["db", "verify"],
    ["journal", "export", "--what", "trades"],
    ["broker"],
    [],
]


def admin(
    *args: str, shell: str = "sh", cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shell, str(ADMIN), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )


def dry_run(*args: str, unit: Path = UNIT, shell: str = "sh", cwd: Path | None = None) -> list[str]:
    done = admin("--dry-run", "--unit", str(unit), *args, shell=shell, cwd=cwd)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    (line,) = done.stdout.splitlines()
    return shlex.split(line)


def properties(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == "-p"]


def unit_properties(unit: Path = UNIT) -> list[str]:
    """What the script must carry over from the unit, in the unit's order."""
    keys = ("User", "Group", "WorkingDirectory", "UMask", "Environment")
    props = [f"{k}={v}" for k in keys for v in values(k, unit)]
    return props + [f"LoadCredentialEncrypted={v}" for v in values("LoadCredentialEncrypted", unit)]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_dry_run_carries_every_credential_of_the_unit(shell: str, tmp_path: Path) -> None:
    argv = dry_run("db", "backup", shell=shell, cwd=tmp_path)
    (exe,) = [v.split()[0] for v in values("ExecStart")]
    assert argv[:5] == ["systemd-run", "--pipe", "--wait", "--collect", "--quiet"]
    assert properties(argv) == unit_properties()
    creds = [p for p in properties(argv) if p.startswith("LoadCredentialEncrypted=")]
    assert len(creds) == 10
    assert "Environment=SKIMD_CONFIG=/opt/skim/config/skimd.toml" in properties(argv)
    assert not any(p.startswith("RuntimeDirectory") for p in properties(argv))
    assert argv[-3:] == [exe, "db", "backup"]


@pytest.mark.parametrize("shell", SHELLS)
def test_arguments_with_spaces_and_quotes_stay_one_word_and_paths_become_absolute(
    shell: str, tmp_path: Path
) -> None:
    argv = dry_run(
        "journal", "import-bank", "may statement's.csv", "--bank", "big bank",
        "--account", "joint acct", "--config=conf/my skimd.toml",
        shell=shell, cwd=tmp_path,
    )  # fmt: skip
    tail = argv[argv.index("journal") :]
    assert tail == [
        "journal", "import-bank", f"{tmp_path}/may statement's.csv", "--bank", "big bank",
        "--account", "joint acct", f"--config={tmp_path}/conf/my skimd.toml",
    ]  # fmt: skip
    backup = "/srv/backups/skimd 1.db"
    restore = dry_run("db", "restore", backup, "--config", "x.toml", cwd=tmp_path)
    assert restore[-4:] == ["restore", backup, "--config", f"{tmp_path}/x.toml"]


@pytest.mark.parametrize("words", REFUSED, ids=lambda w: " ".join(w) or "nothing")
def test_other_commands_are_refused_with_one_line(words: list[str]) -> None:
    done = admin("--dry-run", "--unit", str(UNIT), *words)
    assert done.returncode == 64
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "is not an admin command" in done.stderr


def test_a_file_command_without_its_file_is_refused() -> None:
    for words in (["db", "restore"], ["journal", "import-bank", "--bank", "cba"]):
        done = admin("--dry-run", "--unit", str(UNIT), *words)
        assert (done.returncode, done.stdout) == (64, "")
        assert done.stderr.strip().endswith("needs a FILE")


def test_drop_ins_add_and_reset_credentials_as_systemd_does(tmp_path: Path) -> None:
    unit = tmp_path / "skimd.service"
    shutil.copyfile(UNIT, unit)
    dropins = tmp_path / "skimd.service.d"
    dropins.mkdir()
    (dropins / "10-extra.conf").write_text(
        "[Service]\nLoadCredentialEncrypted=extra:/etc/extra.cred\n", encoding="utf-8"
    )
    added = [p for p in properties(dry_run("db", "rekey", unit=unit)) if "Credential" in p]
    assert added[-1] == "LoadCredentialEncrypted=extra:/etc/extra.cred"
    assert len(added) == 11
    (dropins / "20-only.conf").write_text(
        "[Service]\nLoadCredentialEncrypted=\nLoadCredentialEncrypted=db:/etc/db.cred\n",
        encoding="utf-8",
    )
    only = [p for p in properties(dry_run("db", "rekey", unit=unit)) if "Credential" in p]
    assert only == ["LoadCredentialEncrypted=db:/etc/db.cred"]


def test_a_unit_without_credentials_or_readable_file_is_refused(tmp_path: Path) -> None:
    unit = tmp_path / "skimd.service"
    unit.write_text(
        "\n".join(line for line in UNIT.read_text().splitlines() if "Credential" not in line),
        encoding="utf-8",
    )
    done = admin("--dry-run", "--unit", str(unit), "db", "backup")
    assert (done.returncode, done.stdout) == (78, "")
    assert len(done.stderr.splitlines()) == 1
    missing = admin("--dry-run", "--unit", str(tmp_path / "nope.service"), "db", "backup")
    assert missing.returncode == 78


def recording_tools(folder: Path, *, exit_code: int, readable: bool) -> dict[str, str]:
    """A ``systemd-run`` that records its argv and exits ``exit_code``, and a ``runuser``
    whose ``test -r`` answers ``readable``: first on PATH."""
    folder.mkdir()
    record = folder / "argv.json"
    dump = f'import json, sys; json.dump(sys.argv[1:], open("{record}", "w"))'
    (folder / "systemd-run").write_text(
        f"#!/bin/sh\n\"{sys.executable}\" -c '{dump}' \"$@\"\nexit {exit_code}\n",
        encoding="utf-8",
    )
    (folder / "runuser").write_text(f"#!/bin/sh\nexit {0 if readable else 1}\n", encoding="utf-8")
    for tool in ("systemd-run", "runuser"):
        (folder / tool).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_the_real_run_execs_exactly_the_dry_run_line_and_returns_its_exit_code(
    tmp_path: Path,
) -> None:
    env = recording_tools(tmp_path / "bin", exit_code=3, readable=True)
    words = ("db", "restore", "/srv/backups/skimd 1.db")
    done = admin("--unit", str(UNIT), *words, env=env)
    assert done.returncode == 3
    recorded = json.loads((tmp_path / "bin" / "argv.json").read_text())
    assert ["systemd-run", *recorded] == dry_run(*words)


def test_a_file_the_service_user_cannot_read_is_refused_before_starting(tmp_path: Path) -> None:
    env = recording_tools(tmp_path / "bin", exit_code=0, readable=False)
    words = ("journal", "import-bank", "/root/x.csv", "--bank", "b")
    done = admin("--unit", str(UNIT), *words, env=env)
    assert done.returncode == 64
    assert len(done.stderr.splitlines()) == 1
    assert "user skim cannot read /root/x.csv" in done.stderr
    assert not (tmp_path / "bin" / "argv.json").exists()
