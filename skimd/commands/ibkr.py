"""``skimd ibkr keygen|credentials``: onboarding for IBKR's OAuth 1.0a, file by file.

``keygen DIR`` writes what IBKR's OAuth self-service portal asks for and says what to
upload where and what to copy back; ``credentials DIR`` turns those files (and the values
copied back) into the unit's encrypted systemd credentials, or prints the
``systemd-creds`` lines. Neither reads the config, and neither prints a secret: only
names and paths.

The portal's steps, as IBind's wiki gives them (https://github.com/Voyz/ibind/wiki/OAuth-1.0a,
"OAuth 1.0a Setup", the revision of 11 April 2026): choose a nine-character consumer key and "Save
Key"; upload the Public Signing Key, the Public Encryption Key and the Diffie-Hellman
Parameters; "Generate Token" shows the access token and access token secret once; switch
on "Enable OAuth Access". IBKR's consumer registration notes ("OAuth at Interactive
Brokers", 2018) list the same three uploads: two 2048-bit RSA public keys, one for
RSA-SHA256 signatures and one for encrypting the access token secret, and a 2048-bit DH
prime with its generator.
"""

from __future__ import annotations

import argparse
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

from skimd import bootstrap

PORTAL_SOURCE = "https://github.com/Voyz/ibind/wiki/OAuth-1.0a"
DEFAULT_OUT = Path("/opt/skim/credentials")

# What the portal gives back: (the portal's words, the file to save it in). The file names
# are those `skimd ibkr credentials` reads (skimd/infrastructure/systemd_credentials.py).
_FROM_PORTAL = (
    ("consumer key (the 9 characters you chose, as the page shows them)", "consumer-key"),
    ("access token ('Generate Token')", "access-token"),
    ("access token secret ('Generate Token'; shown once)", "access-token-secret"),
)

_UNVERIFIED = (
    "Not verified by skimd (the portal is IBKR's and changes): the page's address and "
    "layout; whether a paper account needs a consumer of its own (IBind's wiki says to log "
    "in with the live username); how long IBKR takes to activate new keys (users report "
    "up to a day). If the page asks for something else, follow the page."
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    ibkr = subparsers.add_parser("ibkr", help="IBKR OAuth onboarding: keys and credentials")
    actions = ibkr.add_subparsers(dest="ibkr_action", metavar="ACTION")

    keygen = actions.add_parser(
        "keygen", parents=parents,
        help="write the RSA key pairs and DH parameters IBKR's OAuth portal asks for",
    )
    keygen.add_argument("dir", metavar="DIR", type=Path, help="folder to write (made 0700)")
    keygen.set_defaults(handler=keygen_command)

    creds = actions.add_parser(
        "credentials", parents=parents,
        help="encrypt DIR's secrets into systemd credentials (systemd-creds encrypt)",
    )
    creds.add_argument("dir", metavar="DIR", type=Path, help="the keygen folder")
    creds.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="PATH",
        help=f"where the .cred files go (default: {DEFAULT_OUT})",
    )
    creds.add_argument(
        "--print", action="store_true", dest="print_only",
        help="only print the systemd-creds command lines",
    )
    creds.add_argument(
        "--with-key", default=None, metavar="KEY",
        help="passed to systemd-creds (host, tpm2, host+tpm2, auto; default: its own)",
    )
    creds.add_argument(
        "--replace", action="store_true", help="overwrite existing .cred files (rotation)"
    )
    creds.set_defaults(handler=credentials_command)

    def _usage(_: argparse.Namespace) -> int:
        ibkr.print_help()
        return 2

    ibkr.set_defaults(handler=_usage)


def keygen_command(args: argparse.Namespace, *, key_bits: int = 2048, dh_bits: int = 2048) -> int:
    """The handler; the sizes are IBKR's (tests pass smaller ones to stay fast)."""
    directory: Path = args.dir

    def step(line: str) -> None:
        print(f"skimd ibkr keygen: {line}", file=sys.stderr, flush=True)

    def progress(seconds: float) -> None:
        print(f"  ... still searching for a safe prime ({seconds:.0f} s)", file=sys.stderr,
              flush=True)

    result = bootstrap.ibkr_keygen(
        directory, key_bits=key_bits, dh_bits=dh_bits, on_step=step, on_progress=progress
    )
    d = result.directory
    print(f"Wrote into {d} (private files 0600, public files 0644):")
    for path in result.files:
        print(f"  {path.name:24} {stat.S_IMODE(path.stat().st_mode):04o}")
    print(f"Diffie-Hellman parameters ({dh_bits}-bit safe prime, generator 2) took "
          f"{result.dh_seconds:.1f} s.")
    print()
    print(f"Upload to IBKR's OAuth self-service portal (steps as given by {PORTAL_SOURCE}):")
    print("  Consumer Key: choose 9 characters, 'Save Key'")
    for field, path in result.uploads:
        print(f"  {field + ':':27} {path}")
    print("  then 'Generate Token', and switch on 'Enable OAuth Access'.")
    print("Never upload or share private_signature.pem, private_encryption.pem or dh-prime.")
    print()
    print("Copy back from the portal, each value alone in its file, readable by you only")
    print(f"(e.g. `(umask 077; cat > {d}/access-token)`, paste, Enter, Ctrl-D):")
    for words, name in _FROM_PORTAL:
        print(f"  {words:68} -> {d / name}")
    print("Then `skimd ibkr credentials DIR` makes the unit's credentials from these files:")
    print("  skimd-ibkr-signature-key <- private_signature.pem, skimd-ibkr-encryption-key <- "
          "private_encryption.pem,")
    print("  skimd-ibkr-dh-prime <- dh-prime, skimd-ibkr-consumer-key <- consumer-key,")
    print("  skimd-ibkr-access-token <- access-token, skimd-ibkr-access-token-secret <- "
          "access-token-secret.")
    print()
    print(_UNVERIFIED)
    return 0


def credentials_command(args: argparse.Namespace) -> int:
    plan = bootstrap.credential_plan(args.dir, args.out, replace=args.replace)
    if args.print_only:
        for step in plan.steps:
            print(shlex.join(step.argv(args.with_key)))
        for source in plan.missing_optional:
            print(f"# skipped (optional, no {args.dir / source.filename}): {source.credential}")
        for source in plan.missing_required:
            print(f"# MISSING (required): {args.dir / source.filename} -> {source.credential}"
                  f" ({source.origin})")
        if plan.missing_required:
            print(f"skimd: {len(plan.missing_required)} required input(s) missing in "
                  f"{args.dir} (the # MISSING lines)", file=sys.stderr)
            return 65
        return 0
    written = plan.encrypt(args.with_key)
    for step, path in zip(plan.steps, written, strict=True):
        need = "required" if step.source.required else "optional"
        print(f"{step.source.credential:32} ({need}) <- {step.input.name:24} -> {path}")
    for source in plan.missing_optional:
        print(
            f"skipped {source.credential} (optional; no {args.dir / source.filename}): delete "
            f"its LoadCredentialEncrypted= line from the unit, or systemd will not start it"
        )
    return 0
