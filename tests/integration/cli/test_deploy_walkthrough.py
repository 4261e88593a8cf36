"""The README's "Deploy on /opt/skim" walkthrough, followed as far as it goes without
systemd as PID 1, in a throwaway root standing in for /opt/skim (and another for
/root/skim-onboarding).

Run as the README writes them (``sudo`` dropped, paths moved): the folder lines, the
config copy, the portal-value and passphrase lines, ``skimd ibkr credentials`` (with and
without ``--print``), the unit copy and the ``sed`` that drops an unused optional
credential. Run differently: ``skimd ibkr keygen`` at test key sizes (the 2048-bit DH
search takes up to a minute), and systemd's part of steps 11-13 — the credentials are
decrypted with ``systemd-creds decrypt`` into a ``$CREDENTIALS_DIRECTORY`` as systemd
would, from the unit's own ``LoadCredentialEncrypted=`` lines, and ``skimd db init`` and
``config check`` run against the production config with them. Not run: apt, useradd,
chown, git clone, pip, systemctl, systemd-run (``skimd-admin db init`` runs with ``--dry-run``
to show what it would hand systemd-run), the IBKR portal.
"""

from __future__ import annotations

import argparse
import base64
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from skimd.cli import main as cli_main
from skimd.commands.ibkr import keygen_command
from skimd.config import PROJECT_ROOT

ONBOARDING = "/root/skim-onboarding"
PORTAL = {"consumer-key": "TESTCONS1", "access-token": "a1b2c3d4e5f6a7b8c9d0"}


def readme_lines() -> list[str]:
    """Every command line of the section's ``sh`` blocks (continuations joined)."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploy on /opt/skim", 1)[1].split("\n## ", 1)[0]
    text = "\n".join(re.findall(r"```sh\n(.*?)```", section, flags=re.S))
    return [line.strip() for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def the_line(pattern: str) -> str:
    """The one README line matching ``pattern`` (the test fails if the step is gone)."""
    found = [line for line in readme_lines() if re.search(pattern, line)]
    assert len(found) == 1, f"README deploy lines matching {pattern!r}: {found}"
    return found[0]


class Walkthrough:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "opt-skim"
        self.onboarding = tmp_path / "root" / "skim-onboarding"
        self.etc = tmp_path / "etc-systemd-system"

    def moved(self, line: str) -> str:
        line = line.removeprefix("sudo ")
        line = line.replace("/opt/skim/src", str(PROJECT_ROOT))
        line = line.replace("/etc/systemd/system", str(self.etc))
        line = line.replace(ONBOARDING, str(self.onboarding))
        return line.replace("/opt/skim", str(self.root))

    def sh(self, line: str, stdin: str = "") -> None:
        subprocess.run(["bash", "-ec", f"umask 0022\n{self.moved(line)}"], input=stdin,
                       text=True, check=True)

    def skimd(self, line: str, *extra: str) -> int:
        argv = shlex.split(self.moved(line))
        assert argv[0] == "skimd"
        return cli_main([*argv[1:], *extra])


def follow_to_credentials(w: Walkthrough) -> None:
    """Steps 3, 5, 6, 7 and 8."""
    for line in readme_lines():
        if line.startswith("sudo mkdir"):
            w.sh(line)
    copy = the_line(r"install .*skimd\.production\.toml")
    w.sh(copy.replace("-o root -g skim ", ""))  # no group skim in the throwaway root
    config = w.root / "config" / "skimd.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    config.write_text(w.moved(config.read_text(encoding="utf-8")), encoding="utf-8")

    keygen = shlex.split(w.moved(the_line(r"skimd ibkr keygen ")))
    assert keygen[:3] == ["skimd", "ibkr", "keygen"]
    assert keygen_command(argparse.Namespace(dir=Path(keygen[3])), key_bits=1024,
                          dh_bits=512) == 0

    public = load_pem_public_key((w.onboarding / "public_encryption.pem").read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    values = dict(PORTAL)
    values["access-token-secret"] = base64.b64encode(
        public.encrypt(b"\x07" * 32, padding.PKCS1v15())
    ).decode()
    for name, value in values.items():
        w.sh(the_line(rf"cat > {ONBOARDING}/{name}'"), stdin=value + "\n")
    w.sh(the_line(r"> /root/skim-onboarding/db-passphrase"))
    for name in (*values, "db-passphrase"):
        assert stat.S_IMODE((w.onboarding / name).stat().st_mode) == 0o600


def test_the_walkthrough_makes_credential_lines_the_unit_loads(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    w = Walkthrough(tmp_path)
    follow_to_credentials(w)
    capsys.readouterr()
    # --print with the README's default --out: the very paths the unit's lines load
    assert cli_main(["ibkr", "credentials", str(w.onboarding), "--print"]) == 0
    printed = [shlex.split(line) for line in capsys.readouterr().out.splitlines()
               if not line.startswith("#")]
    made = {argv[2].removeprefix("--name="): argv[-1] for argv in printed}
    unit = (PROJECT_ROOT / "systemd" / "skimd.service").read_text(encoding="utf-8")
    loaded = dict(re.findall(r"^LoadCredentialEncrypted=([\w-]+):(\S+)$", unit, flags=re.M))
    assert made == {name: path for name, path in loaded.items()
                    if name not in {"skimd-discord-webhook", "skimd-discord-critical-webhook",
                                    "skimd-heartbeat-url"}}
    assert stat.S_IMODE((w.root / "data").stat().st_mode) == 0o700


def test_the_walkthrough_credentials_run_the_production_config(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if shutil.which("systemd-creds") is None:
        pytest.skip("systemd-creds is not installed")
    probe = subprocess.run(["systemd-creds", "encrypt", "--with-key=host", "--name=p", "-", "-"],
                           input="x", capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"systemd-creds cannot use the host key here: {probe.stderr.strip()}")
    w = Walkthrough(tmp_path)
    follow_to_credentials(w)
    assert w.skimd(the_line(r"^sudo skimd ibkr credentials "),
                   "--out", str(w.root / "credentials")) == 0

    # step 10: the unit, with the lines of the optional credentials not made deleted
    w.etc.mkdir()
    w.sh(the_line(r"cp /opt/skim/src/systemd/skimd.service "))
    drop = the_line(r"sed -i '/skimd-heartbeat-url/d' ")
    for optional in ("skimd-heartbeat-url", "skimd-discord-webhook",
                     "skimd-discord-critical-webhook"):
        w.sh(drop.replace("skimd-heartbeat-url", optional))
    unit = w.etc / "skimd.service"

    # step 11: skimd-admin gives the transient unit the installed unit's credentials (its
    # --dry-run prints the systemd-run line); decrypt them as systemd would for that unit
    admin_line = shlex.split(the_line(r"^sudo skimd-admin db init$"))
    plan = subprocess.run(["sh", str(PROJECT_ROOT / "systemd" / "skimd-admin"), "--dry-run",
                           "--unit", str(unit), *admin_line[2:]],
                          capture_output=True, text=True, check=True).stdout
    argv = shlex.split(plan)
    assert argv[0] == "systemd-run" and argv[-2:] == ["db", "init"]
    options = [argv[i + 1] for i, word in enumerate(argv)
               if word == "-p" and argv[i + 1].startswith("LoadCredentialEncrypted=")]
    assert len(options) == 7
    creds = tmp_path / "run-credentials"
    creds.mkdir(mode=0o700)
    for option in options:
        name, path = option.removeprefix("LoadCredentialEncrypted=").split(":", 1)
        path = w.moved(path) if path.startswith("/opt/skim") else path
        assert Path(path).is_file(), f"systemd would refuse to start: {path} missing"
        subprocess.run(["systemd-creds", "decrypt", f"--name={name}", path,
                        str(creds / name)], check=True)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("SKIMD_CONFIG", str(w.root / "config" / "skimd.toml"))
    assert "LoadCredentialEncrypted=skimd-heartbeat-url" not in unit.read_text()
    assert w.skimd("skimd db init") == 0
    assert w.skimd("skimd config check") == 0
    assert (w.root / "data" / "skimd.db").is_file()
    assert stat.S_IMODE((w.root / "data").stat().st_mode) == 0o700
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    passphrase = (w.onboarding / "db-passphrase").read_text().strip()
    assert passphrase not in printed and PORTAL["access-token"] not in printed
