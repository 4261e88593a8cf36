"""skimd's secrets from an onboarding directory into systemd credentials (``.cred`` files).

The directory holds one file per secret (:data:`SOURCES`): what ``skimd ibkr keygen``
wrote, the three values IBKR's portal shows once, the database passphrase and, optionally,
the Discord and heartbeat URLs. Each becomes ``<out>/<credential>.cred`` through
``systemd-creds encrypt --name=<credential> <file> <out>/<credential>.cred``: the names are
those of the units' ``LoadCredentialEncrypted=`` lines (``systemd/skimd.service``, and
``systemd/skimd-web.service`` for the web view's session secret), which
:data:`skimd.config.SECRETS` and :data:`skimd.config.KEY_FILE_CREDENTIALS` read. The
secret goes to ``systemd-creds`` as a file path, never on a command line or through this
process's output; nothing here prints or logs a value.

A missing optional input is skipped. systemd refuses to start a unit whose
``LoadCredentialEncrypted=`` names an absolute path that does not exist (v252
``src/core/execute.c``, ``load_credential``: an absolute path is not ``missing_ok``), so
the trader deletes the lines of the optional credentials not used; skimd refuses an empty
secret file, so an empty ``.cred`` is no way around it.

Inputs are checked before anything is encrypted, without showing them: each must be a
non-empty regular file readable by its owner only (0600 or 0400, as skimd's own
``*_file`` secrets), the PEM keys must be unencrypted RSA private keys, the DH prime must
parse, and the access token secret must be a ciphertext the size of the encryption key
(the portal's token belongs to the key uploaded with it).
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skimd.config import KEY_FILE_CREDENTIALS, SECRETS, check_private_file
from skimd.errors import (
    BrokerAuthError,
    ConfigurationError,
    FatalError,
    InvalidInputError,
    SecretFileError,
)
from skimd.files import private_dir
from skimd.infrastructure.brokers.ibkr import keygen

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class CredentialSource:
    """One secret: its credential name, its file in the onboarding directory, whether the
    production config needs it, and where its value comes from (for the trader)."""

    credential: str
    filename: str
    required: bool
    origin: str


SOURCES: tuple[CredentialSource, ...] = (
    CredentialSource("skimd-db-passphrase", "db-passphrase", True,
                     "the database passphrase you choose (a long random string)"),
    CredentialSource("skimd-ibkr-consumer-key", "consumer-key", True,
                     "IBKR portal: the consumer key you chose and saved"),
    CredentialSource("skimd-ibkr-access-token", "access-token", True,
                     "IBKR portal: 'Generate Token', the access token"),
    CredentialSource("skimd-ibkr-access-token-secret", "access-token-secret", True,
                     "IBKR portal: 'Generate Token', the access token secret"),
    CredentialSource("skimd-ibkr-dh-prime", keygen.DH_PRIME, True,
                     "skimd ibkr keygen (the prime of dhparam.pem, hex)"),
    CredentialSource("skimd-ibkr-signature-key", keygen.SIGNATURE_PRIVATE, True,
                     "skimd ibkr keygen (private half of the signing key)"),
    CredentialSource("skimd-ibkr-encryption-key", keygen.ENCRYPTION_PRIVATE, True,
                     "skimd ibkr keygen (private half of the encryption key)"),
    CredentialSource("skimd-discord-webhook", "discord-webhook", False,
                     "Discord: a channel's webhook URL (alerts)"),
    CredentialSource("skimd-discord-critical-webhook", "discord-critical-webhook", False,
                     "Discord: a webhook URL for critical alerts only"),
    CredentialSource("skimd-heartbeat-url", "heartbeat-url", False,
                     "a dead-man's-switch URL pinged while the daemon runs"),
    CredentialSource("skimd-web-session-secret", "web-session-secret", False,
                     "a random string signing skimd web's session cookie (skimd-web.service)"),
)



def credentials_the_config_reads() -> set[str]:
    """Every credential name skimd.config reads (a test holds :data:`SOURCES` to it)."""
    return {s.credential for s in SECRETS} | set(KEY_FILE_CREDENTIALS.values())


@dataclass(frozen=True)
class CredentialStep:
    """Encrypt ``source`` (the file ``input``) into ``output``."""

    source: CredentialSource
    input: Path
    output: Path

    def argv(self, with_key: str | None = None) -> list[str]:
        key = [f"--with-key={with_key}"] if with_key else []
        return [
            "systemd-creds", "encrypt", f"--name={self.source.credential}", *key,
            str(self.input), str(self.output),
        ]


@dataclass(frozen=True)
class CredentialPlan:
    """What ``skimd ibkr credentials`` would encrypt, and which inputs are missing."""

    steps: tuple[CredentialStep, ...]
    missing_required: tuple[CredentialSource, ...]
    missing_optional: tuple[CredentialSource, ...]

    def encrypt(self, with_key: str | None = None, run: Runner | None = None) -> list[Path]:
        """Run every step (the output directory is made 0700 if missing); each ``.cred`` is
        left 0600. Refuses to start while a required input is missing. ``run`` stands in
        for :func:`subprocess.run` (tests)."""
        if self.missing_required:
            raise InvalidInputError(_missing_line(self.missing_required))
        runner = run or _run
        if run is None and shutil.which("systemd-creds") is None:
            raise ConfigurationError(
                "systemd-creds not found on PATH (Debian: apt install systemd); "
                "or run with --print and encrypt on the host that runs the unit"
            )
        written: list[Path] = []
        for step in self.steps:
            private_dir(step.output.parent)
            done = runner(step.argv(with_key))
            if done.returncode != 0:
                why = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
                raise FatalError(
                    f"systemd-creds encrypt {step.source.credential} failed "
                    f"(exit {done.returncode}): {why[0]}"
                )
            os.chmod(step.output, 0o600)
            written.append(step.output)
        return written


def plan_credentials(directory: Path, out: Path, *, replace: bool = False) -> CredentialPlan:
    """Check the inputs in ``directory`` (see the module docstring) and plan one step per
    present input. An existing ``.cred`` is refused unless ``replace``."""
    if not directory.is_dir():
        raise InvalidInputError(f"{directory}: not a directory")
    steps: list[CredentialStep] = []
    required: list[CredentialSource] = []
    optional: list[CredentialSource] = []
    for source in SOURCES:
        path = directory / source.filename
        if not path.exists():
            (required if source.required else optional).append(source)
            continue
        _check_input(path)
        output = out / f"{source.credential}.cred"
        if output.exists() and not replace:
            raise InvalidInputError(
                f"{output}: already exists; refusing to overwrite it (--replace to rotate)"
            )
        steps.append(CredentialStep(source, path, output))
    present = {s.source.filename: s.input for s in steps}
    _check_ibkr_material(present)
    return CredentialPlan(tuple(steps), tuple(required), tuple(optional))


def _missing_line(missing: Sequence[CredentialSource]) -> str:
    names = ", ".join(f"{s.filename} ({s.credential})" for s in missing)
    return f"required input missing: {names}"


def _check_input(path: Path) -> None:
    if not path.is_file():
        raise InvalidInputError(f"{path}: not a regular file")
    check_private_file(path)  # SecretFileError naming the file and its mode
    try:
        if not path.read_bytes().strip():
            raise SecretFileError(f"{path}: secret file is empty")
    except PermissionError:
        raise SecretFileError(f"{path}: secret file is not readable") from None


def _check_ibkr_material(present: dict[str, Path]) -> None:
    """The keys parse, the prime parses, the token secret opens with the encryption key."""
    from skimd.infrastructure.brokers.ibkr.credentials import parse_dh_prime
    from skimd.infrastructure.brokers.ibkr.rsa_in_process import load_rsa_key

    if keygen.SIGNATURE_PRIVATE in present:
        load_rsa_key(present[keygen.SIGNATURE_PRIVATE], "signature_key_file")
    if keygen.DH_PRIME in present:
        try:
            parse_dh_prime(present[keygen.DH_PRIME].read_text(encoding="utf-8"))
        except ConfigurationError as exc:
            raise InvalidInputError(f"{present[keygen.DH_PRIME]}: {exc}") from None
    if keygen.ENCRYPTION_PRIVATE in present:
        key = load_rsa_key(present[keygen.ENCRYPTION_PRIVATE], "encryption_key_file")
        if "access-token-secret" in present:
            _check_token_secret(present["access-token-secret"], key,
                                present[keygen.ENCRYPTION_PRIVATE])


def _check_token_secret(path: Path, key: rsa.RSAPrivateKey, key_path: Path) -> None:
    """IBKR's access token secret is base64 of an RSA ciphertext made with our public
    encryption key, so it is exactly as long as that key's modulus. (Whether it decrypts
    cannot be told here: OpenSSL's implicit rejection answers a wrong PKCS#1 v1.5
    ciphertext with random bytes instead of an error.)"""
    from skimd.infrastructure.brokers.ibkr.rsa_in_process import decrypt_prepend

    text = path.read_text(encoding="utf-8").strip()
    try:
        size = len(base64.b64decode(text, validate=True))
        if size != key.key_size // 8:
            raise ValueError(size)
        decrypt_prepend(key, text)
    except (ValueError, binascii.Error, BrokerAuthError):
        raise InvalidInputError(
            f"{path}: not an access token secret for {key_path} (expected the base64 of "
            f"{key.key_size // 8} bytes); was the token generated after that key's public "
            "half was uploaded?"
        ) from None


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)  # noqa: S603
