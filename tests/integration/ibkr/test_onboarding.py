"""IBKR onboarding: ``skimd ibkr keygen`` writes what the OAuth portal takes, in forms
skimd itself reads back; ``skimd ibkr credentials`` turns the folder into the unit's
credentials without a secret on a command line or in its output.

Keys are made once per session at test sizes (RSA 1024, DH 512; IBKR's 2048-bit DH
search takes seconds to a minute), through the same ``generate`` the command calls.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shlex
import shutil
import stat
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from skimd.commands.ibkr import credentials_command, keygen_command
from skimd.config import PROJECT_ROOT
from skimd.errors import ConfigurationError, FatalError, InvalidInputError, SecretFileError
from skimd.infrastructure.brokers.ibkr import keygen
from skimd.infrastructure.brokers.ibkr.credentials import parse_dh_prime
from skimd.infrastructure.brokers.ibkr.rsa_in_process import decrypt_prepend, load_rsa_key
from skimd.infrastructure.systemd_credentials import (
    SOURCES,
    credentials_the_config_reads,
    plan_credentials,
)

KEY_BITS, DH_BITS = 1024, 512
PORTAL_VALUES = {"consumer-key": "TESTCONS1", "access-token": "a1b2c3d4e5f6a7b8c9d0"}
SECRET_BYTES = bytes(range(1, 33))


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 2.5
        return self.now


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keygen") / "onboarding"
    keygen.generate(directory, key_bits=KEY_BITS, dh_bits=DH_BITS, monotonic=Ticks())
    return directory


def onboarding_copy(generated: Path, tmp_path: Path) -> Path:
    """A copy of the keygen folder plus the values the portal gives back, each 0600."""
    folder = tmp_path / "onboarding"
    shutil.copytree(generated, folder)
    for name, value in PORTAL_VALUES.items():
        write_secret(folder / name, value + "\n")
    public = load_pem_public_key((folder / keygen.ENCRYPTION_PUBLIC).read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    token_secret = base64.b64encode(public.encrypt(SECRET_BYTES, padding.PKCS1v15())).decode()
    write_secret(folder / "access-token-secret", token_secret)
    write_secret(folder / "db-passphrase", "correct horse battery staple")
    return folder


def write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def secret_values(folder: Path) -> list[str]:
    """Every secret value in the folder (what must never be printed or put in argv)."""
    values = [(folder / s.filename).read_text().strip() for s in SOURCES
              if (folder / s.filename).exists()]
    pem_bodies = [line for name in (keygen.SIGNATURE_PRIVATE, keygen.ENCRYPTION_PRIVATE)
                  for line in (folder / name).read_text().splitlines()[1:-1]]
    return values + pem_bodies


# -- keygen -------------------------------------------------------------------------------


def test_keygen_writes_the_portal_files_with_private_ones_0600(generated: Path) -> None:
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in generated.iterdir()}
    assert modes == {
        "private_signature.pem": 0o600, "private_encryption.pem": 0o600, "dh-prime": 0o600,
        "public_signature.pem": 0o644, "public_encryption.pem": 0o644, "dhparam.pem": 0o644,
    }
    assert stat.S_IMODE(generated.stat().st_mode) == 0o700


def test_keygen_output_is_what_skimd_reads_back(generated: Path) -> None:
    for private, public in ((keygen.SIGNATURE_PRIVATE, keygen.SIGNATURE_PUBLIC),
                            (keygen.ENCRYPTION_PRIVATE, keygen.ENCRYPTION_PUBLIC)):
        key = load_rsa_key(generated / private, "signature_key_file")
        assert key.key_size == KEY_BITS
        published = load_pem_public_key((generated / public).read_bytes())
        assert isinstance(published, rsa.RSAPublicKey)
        assert published.public_numbers() == key.public_key().public_numbers()
    pem = (generated / keygen.DH_PARAMS).read_text()
    assert pem.startswith("-----BEGIN DH PARAMETERS-----")
    prime = parse_dh_prime((generated / keygen.DH_PRIME).read_text())
    assert prime == parse_dh_prime(pem)
    assert prime.bit_length() == DH_BITS
    # a safe prime: p and (p - 1) / 2 both pass Fermat tests to several bases
    for n in (prime, (prime - 1) // 2):
        assert all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13))


def test_the_encryption_key_opens_a_token_secret_made_for_its_public_half(
    generated: Path, tmp_path: Path
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    key = load_rsa_key(folder / keygen.ENCRYPTION_PRIVATE, "encryption_key_file")
    secret = (folder / "access-token-secret").read_text()
    assert decrypt_prepend(key, secret) == SECRET_BYTES.hex()


def test_keygen_refuses_before_writing_anything_when_one_target_exists(tmp_path: Path) -> None:
    (tmp_path / keygen.DH_PARAMS).write_text("mine")
    with pytest.raises(InvalidInputError, match=r"dhparam\.pem: already exists"):
        keygen.generate(tmp_path, key_bits=KEY_BITS, dh_bits=DH_BITS, monotonic=Ticks())
    assert [p.name for p in tmp_path.iterdir()] == [keygen.DH_PARAMS]
    assert (tmp_path / keygen.DH_PARAMS).read_text() == "mine"


def test_keygen_reports_progress_while_the_prime_is_searched_for() -> None:
    released = threading.Event()

    def work() -> tuple[bytes, int]:
        assert released.wait(30), "progress was never reported"
        return b"pem", 7

    assert keygen._in_worker(work, 0.01, released.set) == (b"pem", 7)


def test_a_failure_in_the_search_reaches_the_caller() -> None:
    def work() -> tuple[bytes, int]:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        keygen._in_worker(work, 0.01, lambda: None)


def test_keygen_command_says_what_to_upload_and_what_comes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kg"
    args = argparse.Namespace(dir=folder)
    assert keygen_command(args, key_bits=KEY_BITS, dh_bits=DH_BITS) == 0
    out = capsys.readouterr().out
    assert f"Public Signing Key:         {folder / 'public_signature.pem'}" in out
    assert f"Public Encryption Key:      {folder / 'public_encryption.pem'}" in out
    assert f"Diffie-Hellman Parameters:  {folder / 'dhparam.pem'}" in out
    for name in ("consumer-key", "access-token", "access-token-secret"):
        assert f"-> {folder / name}" in out
        assert f"skimd-ibkr-{name} <- {name}" in out
    assert re.search(r"took \d+\.\d s", out)
    assert re.search(r"private_signature\.pem +0600\n", out)
    assert re.search(r"public_signature\.pem +0644\n", out)
    assert "Not verified" in out
    assert not any(line in out for line in secret_values(folder))


# -- credentials --------------------------------------------------------------------------


def test_onboarding_names_exactly_the_credentials_the_config_and_the_unit_use() -> None:
    loaded: set[str] = set()
    for unit in ("skimd.service", "skimd-web.service"):  # the web view's session secret
        text = (PROJECT_ROOT / "systemd" / unit).read_text()
        loaded |= set(re.findall(r"^LoadCredentialEncrypted=([\w-]+):", text, flags=re.M))
    assert {s.credential for s in SOURCES} == credentials_the_config_reads() == loaded
    optional = {s.credential for s in SOURCES if not s.required}
    assert optional == {
        "skimd-discord-webhook", "skimd-discord-critical-webhook", "skimd-heartbeat-url",
        "skimd-web-session-secret",
    }


def test_the_plan_encrypts_every_present_input_by_path_only(
    generated: Path, tmp_path: Path
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    out = tmp_path / "credentials"
    plan = plan_credentials(folder, out)
    assert plan.missing_required == ()
    assert {s.credential for s in plan.missing_optional} == {
        "skimd-discord-webhook", "skimd-discord-critical-webhook", "skimd-heartbeat-url",
        "skimd-web-session-secret",
    }
    by_name = {s.source.credential: s for s in plan.steps}
    assert len(by_name) == 7
    step = by_name["skimd-ibkr-signature-key"]
    assert step.argv("host") == [
        "systemd-creds", "encrypt", "--name=skimd-ibkr-signature-key", "--with-key=host",
        str(folder / "private_signature.pem"), str(out / "skimd-ibkr-signature-key.cred"),
    ]
    argvs = " ".join(" ".join(s.argv()) for s in plan.steps)
    assert not any(value in argvs for value in secret_values(folder))


def test_missing_required_inputs_are_named_and_nothing_is_encrypted(
    generated: Path, tmp_path: Path
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    (folder / "access-token").unlink()
    (folder / "db-passphrase").unlink()
    plan = plan_credentials(folder, tmp_path / "credentials")
    calls: list[Sequence[str]] = []
    with pytest.raises(InvalidInputError, match=r"db-passphrase \(skimd-db-passphrase\), "
                       r"access-token \(skimd-ibkr-access-token\)"):
        plan.encrypt(run=lambda argv: calls.append(argv))  # type: ignore[arg-type,func-returns-value]
    assert calls == []
    assert not (tmp_path / "credentials").exists()


def test_an_input_others_can_read_is_refused(generated: Path, tmp_path: Path) -> None:
    folder = onboarding_copy(generated, tmp_path)
    (folder / "consumer-key").chmod(0o644)
    with pytest.raises(SecretFileError, match=r"consumer-key: secret file mode is 0644"):
        plan_credentials(folder, tmp_path / "credentials")


def test_a_token_secret_for_another_key_is_refused(generated: Path, tmp_path: Path) -> None:
    folder = onboarding_copy(generated, tmp_path)
    for wrong in (base64.b64encode(b"x" * 100).decode(), "not base64!"):
        write_secret(folder / "access-token-secret", wrong)
        with pytest.raises(InvalidInputError, match=r"not an access token secret for .*"
                           r"private_encryption\.pem"):
            plan_credentials(folder, tmp_path / "credentials")


def test_existing_credentials_are_kept_unless_replacing(generated: Path, tmp_path: Path) -> None:
    folder = onboarding_copy(generated, tmp_path)
    out = tmp_path / "credentials"
    out.mkdir()
    (out / "skimd-ibkr-access-token.cred").write_text("old")
    with pytest.raises(InvalidInputError, match=r"skimd-ibkr-access-token\.cred: already exists"):
        plan_credentials(folder, out)
    assert len(plan_credentials(folder, out, replace=True).steps) == 7


class FakeCreds:
    """Stands in for systemd-creds: records argv, writes the output file (mode 0644, as
    systemd-creds does under a 0022 umask), or fails with a message."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        if self.fail_on and f"--name={self.fail_on}" in argv:
            return subprocess.CompletedProcess(argv, 1, "", "Failed to encrypt: no host key\n")
        Path(argv[-1]).write_text("ciphertext")
        Path(argv[-1]).chmod(0o644)
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_encrypt_runs_one_command_per_input_and_leaves_each_cred_0600(
    generated: Path, tmp_path: Path
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    out = tmp_path / "opt" / "credentials"
    fake = FakeCreds()
    written = plan_credentials(folder, out).encrypt("host", run=fake)
    assert [c[2] for c in fake.calls] == [f"--name={s.credential}" for s in SOURCES[:7]]
    assert all(c[3] == "--with-key=host" for c in fake.calls)
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o600}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_a_failing_systemd_creds_is_one_line_naming_the_credential(
    generated: Path, tmp_path: Path
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    plan = plan_credentials(folder, tmp_path / "credentials")
    with pytest.raises(FatalError, match=r"encrypt skimd-ibkr-dh-prime failed \(exit 1\): "
                       "Failed to encrypt: no host key"):
        plan.encrypt(run=FakeCreds(fail_on="skimd-ibkr-dh-prime"))


def test_without_systemd_creds_the_way_out_is_named(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    plan = plan_credentials(folder, tmp_path / "credentials")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    with pytest.raises(ConfigurationError, match=r"systemd-creds not found on PATH .*--print"):
        plan.encrypt()
    assert not (tmp_path / "credentials").exists()


def test_print_gives_runnable_lines_and_names_what_is_missing(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = onboarding_copy(generated, tmp_path)
    (folder / "access-token").unlink()
    args = argparse.Namespace(dir=folder, out=Path("/opt/skim/credentials"), replace=False,
                              print_only=True, with_key=None)
    assert credentials_command(args) == 65
    out, err = capsys.readouterr()
    assert err == f"skimd: 1 required input(s) missing in {folder} (the # MISSING lines)\n"
    lines = out.splitlines()
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    assert len(commands) == 6
    assert commands[0] == [
        "systemd-creds", "encrypt", "--name=skimd-db-passphrase", str(folder / "db-passphrase"),
        "/opt/skim/credentials/skimd-db-passphrase.cred",
    ]
    assert f"# MISSING (required): {folder / 'access-token'} -> skimd-ibkr-access-token" in out
    assert "# skipped (optional" in out and "skimd-heartbeat-url" in out
    assert not any(value in out for value in secret_values(folder))


# -- the real systemd-creds ---------------------------------------------------------------


def host_key_creds() -> None:
    """Skip unless ``systemd-creds encrypt --with-key=host`` works here (it needs the tool,
    and root to read — or on first use create — /var/lib/systemd/credential.secret; v252
    has no ``--with-key=null``, and no TPM is assumed)."""
    if shutil.which("systemd-creds") is None:
        pytest.skip("systemd-creds is not installed")
    probe = subprocess.run(
        ["systemd-creds", "encrypt", "--with-key=host", "--name=probe", "-", "-"],
        input="x", capture_output=True, text=True, check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"systemd-creds cannot use the host key here: {probe.stderr.strip()}")


def test_credentials_decrypt_to_the_input_under_their_own_name(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host_key_creds()
    folder = onboarding_copy(generated, tmp_path)
    out = tmp_path / "credentials"
    args = argparse.Namespace(dir=folder, out=out, replace=False, print_only=False,
                              with_key="host")
    assert credentials_command(args) == 0
    printed = capsys.readouterr().out
    assert "skipped skimd-heartbeat-url (optional" in printed
    assert not any(value in printed for value in secret_values(folder))
    for source in SOURCES[:7]:
        cred = out / f"{source.credential}.cred"
        assert stat.S_IMODE(cred.stat().st_mode) == 0o600
        plain = subprocess.run(
            ["systemd-creds", "decrypt", f"--name={source.credential}", str(cred), "-"],
            capture_output=True, check=True,
        ).stdout
        assert plain == (folder / source.filename).read_bytes()
    wrong = subprocess.run(
        ["systemd-creds", "decrypt", "--name=skimd-db-passphrase",
         str(out / "skimd-ibkr-access-token.cred"), "-"],
        capture_output=True, check=False,
    )
    assert wrong.returncode != 0  # a credential opens only under the name it was made for
