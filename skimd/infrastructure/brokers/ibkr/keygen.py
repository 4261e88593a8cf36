"""The key material IBKR's OAuth 1.0a self-service portal asks for, made with ``cryptography``.

What the portal takes, and what it gives back (sources: IBind's OAuth 1.0a wiki page,
https://github.com/Voyz/ibind/wiki/OAuth-1.0a, "OAuth 1.0a Setup"; IBKR's consumer
registration notes "OAuth at Interactive Brokers", 2018, section 1 "Consumer
Registration"):

- two 2048-bit RSA key pairs: the public half of one is uploaded as the **Public Signing
  Key** (IBKR checks our RSA-SHA256 signature of the live-session-token request with it),
  the public half of the other as the **Public Encryption Key** (IBKR encrypts the access
  token secret with it; :func:`~.auth.token_secret_prepend` undoes that);
- 2048-bit Diffie-Hellman parameters, generator 2, as the PEM ``openssl dhparam`` writes
  (``BEGIN DH PARAMETERS``, PKCS#3), uploaded as **Diffie-Hellman Parameters**;
- the trader chooses a nine-character **consumer key** on the page ("Save Key"); "Generate
  Token" shows the **access token** and **access token secret** once (they do not appear
  again when the page is revisited).

File names follow the openssl commands both sources give (``private_signature.pem``,
``public_signature.pem``, ``private_encryption.pem``, ``public_encryption.pem``,
``dhparam.pem``), so the portal's instructions read the same; ``dh-prime`` holds the prime
as hex, the form ``[ibkr] dh_prime`` is read in (:func:`~.credentials.parse_dh_prime`
takes hex or the PEM). Private keys are unencrypted PKCS#8 PEM, what
:func:`~.rsa_child.load_private_key` reads.

The DH parameters are generated, not taken from a published group (RFC 3526 group 14):
neither source says whether IBKR accepts a well-known prime, and each consumer uploads its
own. OpenSSL (under ``cryptography``) finds a 2048-bit safe prime in a random time:
0.6 s to 50 s over seven runs (median 23 s) on a shared 2-core machine with
``cryptography`` 50.0.2, so :func:`generate` reports progress while it searches.
``cryptography`` 50 marks finite-field DH deprecated ("support will be removed in a future
release"); the warning is silenced here, where it is known and IBKR's protocol leaves no
choice. The dh-prime file is 0600 like the keys because the config treats ``dh_prime`` as
a secret (``dhparam.pem`` itself is uploaded, so it is not private).

Nothing is overwritten: every target is checked before any key is made, and each file is
created with ``O_EXCL`` (private keys 0600, public files 0644).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from skimd.errors import InvalidInputError
from skimd.files import private_dir

SIGNATURE_PRIVATE = "private_signature.pem"
SIGNATURE_PUBLIC = "public_signature.pem"
ENCRYPTION_PRIVATE = "private_encryption.pem"
ENCRYPTION_PUBLIC = "public_encryption.pem"
DH_PARAMS = "dhparam.pem"
DH_PRIME = "dh-prime"

KEY_BITS = 2048
DH_BITS = 2048
DH_GENERATOR = 2

ALL_FILES = (
    SIGNATURE_PRIVATE, SIGNATURE_PUBLIC, ENCRYPTION_PRIVATE, ENCRYPTION_PUBLIC, DH_PARAMS,
    DH_PRIME,
)
PRIVATE_FILES = frozenset({SIGNATURE_PRIVATE, ENCRYPTION_PRIVATE, DH_PRIME})


@dataclass(frozen=True)
class KeygenResult:
    """What :func:`generate` wrote, and how long the DH parameters took (seconds)."""

    directory: Path
    files: tuple[Path, ...]
    dh_seconds: float

    @property
    def uploads(self) -> tuple[tuple[str, Path], ...]:
        """(the portal's field, the file to upload into it), in the page's order."""
        return (
            ("Public Signing Key", self.directory / SIGNATURE_PUBLIC),
            ("Public Encryption Key", self.directory / ENCRYPTION_PUBLIC),
            ("Diffie-Hellman Parameters", self.directory / DH_PARAMS),
        )


def existing_targets(directory: Path) -> list[Path]:
    """The files :func:`generate` would write that already exist in ``directory``."""
    return [directory / name for name in ALL_FILES if (directory / name).exists()]


def generate(
    directory: Path,
    *,
    key_bits: int = KEY_BITS,
    dh_bits: int = DH_BITS,
    monotonic: Callable[[], float],
    on_step: Callable[[str], None] = lambda _: None,
    on_progress: Callable[[float], None] = lambda _: None,
    progress_every_s: float = 10.0,
) -> KeygenResult:
    """Write both RSA key pairs and the DH parameters into ``directory`` (made 0700 if
    missing). Refuses, before making anything, if any target exists (InvalidInputError
    naming the first). ``on_step`` hears one line before each slow step; while the DH
    prime is searched for, ``on_progress`` hears the seconds elapsed every
    ``progress_every_s`` (by ``monotonic``, which also times the step for the result).
    Smaller sizes are for tests only: IBKR asks for 2048 bits."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"{directory}: not a directory")
    clash = existing_targets(directory)
    if clash:
        raise InvalidInputError(f"{clash[0]}: already exists; refusing to overwrite it")
    private_dir(directory)
    written: list[Path] = []
    for private_name, public_name in (
        (SIGNATURE_PRIVATE, SIGNATURE_PUBLIC),
        (ENCRYPTION_PRIVATE, ENCRYPTION_PUBLIC),
    ):
        on_step(f"generating the {key_bits}-bit RSA key pair {private_name} / {public_name}")
        private_pem, public_pem = rsa_key_pair(key_bits)
        written.append(_create(directory / private_name, private_pem))
        written.append(_create(directory / public_name, public_pem))
    on_step(
        f"generating {dh_bits}-bit Diffie-Hellman parameters (a safe prime, generator "
        f"{DH_GENERATOR}); this takes from seconds to minutes"
    )
    started = monotonic()
    pem, prime = _in_worker(lambda: dh_parameters(dh_bits), progress_every_s,
                            lambda: on_progress(monotonic() - started))
    dh_seconds = monotonic() - started
    written.append(_create(directory / DH_PARAMS, pem))
    written.append(_create(directory / DH_PRIME, format(prime, "x").encode() + b"\n"))
    return KeygenResult(directory, tuple(written), dh_seconds)


def rsa_key_pair(bits: int) -> tuple[bytes, bytes]:
    """(unencrypted PKCS#8 private PEM, SubjectPublicKeyInfo public PEM), exponent 65537."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def dh_parameters(bits: int) -> tuple[bytes, int]:
    """(PKCS#3 ``BEGIN DH PARAMETERS`` PEM, the prime) for a fresh safe prime, generator 2."""
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        from cryptography.hazmat.primitives.asymmetric import dh

        params = dh.generate_parameters(generator=DH_GENERATOR, key_size=bits)
        pem = params.parameter_bytes(
            serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3
        )
        prime = params.parameter_numbers().p
    return pem, prime


def _in_worker(
    work: Callable[[], tuple[bytes, int]], every_s: float, tick: Callable[[], None]
) -> tuple[bytes, int]:
    """Run ``work`` in a thread (OpenSSL releases the GIL while it searches), calling
    ``tick`` every ``every_s`` until it is done; its exception is raised here. A Ctrl-C
    reaches this thread at once; the daemon worker dies with the process."""
    outcome: list[tuple[bytes, int]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="skimd-dhparam", daemon=True)
    worker.start()
    while True:
        worker.join(every_s)
        if not worker.is_alive():
            break
        tick()
    if failure:
        raise failure[0]
    return outcome[0]


def _create(path: Path, data: bytes) -> Path:
    """Create ``path`` (never replacing one) at 0600 for private material, else 0644."""
    mode = 0o600 if path.name in PRIVATE_FILES else 0o644
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise InvalidInputError(f"{path}: already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), mode)
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return path
