"""Reading a statement file and parsing its amounts; shared by the CSV and OFX readers."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from skimd.errors import InvalidInputError

_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_DRCR = re.compile(r"(?i)\s*(CR|DR)$")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the statement ({exc.strerror})") from exc


def decode(raw: bytes, encoding: str, source: str) -> str:
    """Text of the file; a byte the encoding cannot read is reported with its line."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{source}: line {line}: not valid {encoding} text (byte {exc.start})"
        ) from exc
    except LookupError as exc:
        raise InvalidInputError(f"{source}: unknown text encoding {encoding!r}") from exc


def parse_amount(
    text: str, decimal_separator: str = ".", thousands_separator: str = ","
) -> Decimal:
    """A signed Decimal from how banks write money.

    Accepts a leading ``+``/``-``, a trailing ``-``, ``(12.34)`` for negatives, a ``CR``
    (positive) or ``DR`` (negative) suffix, a ``$``/``A$`` prefix, and the configured
    separators. Raises ValueError (with the reason) for anything else, including empty text.
    """
    s = text.strip()
    if not s:
        raise ValueError("is empty")
    negative = False
    drcr = _DRCR.search(s)
    if drcr:
        negative = drcr.group(1).upper() == "DR"
        s = s[: drcr.start()].strip()
    if s.startswith("(") and s.endswith(")"):
        negative = not negative
        s = s[1:-1].strip()
    if s.endswith("-"):
        negative = not negative
        s = s[:-1].strip()
    if s and s[0] in "+-":
        negative ^= s[0] == "-"
        s = s[1:].strip()
    for prefix in ("A$", "AU$", "$"):
        if s.upper().startswith(prefix):
            s = s[len(prefix) :].strip()
            break
    if thousands_separator:
        s = s.replace(thousands_separator, "")
    if decimal_separator != ".":
        s = s.replace(decimal_separator, ".")
    if not _NUMBER.fullmatch(s):
        raise ValueError(f"{text.strip()!r} is not an amount")
    value = Decimal(s)
    return -value if negative and value else value
