"""Reading a statement file and parsing its amounts; shared by the CSV and OFX readers.

Amounts are bounded to what a bank statement can hold: at most
:data:`MAX_WHOLE_DIGITS` (12) digits before the decimal point — under one trillion, above any
single payment a personal or trading account settles (the largest high-value payment
systems clear single transactions in the billions) — and at most :data:`MAX_DECIMAL_PLACES`
(4) after it, which covers cents, currencies with three minor digits and the
ten-thousandths some banks give interest lines. Leading zeros before and trailing zeros
after the digits do not count (``0001.50``, ``12.500000``). Anything larger is a fault in
the file (a column mix-up, a corrupted export, a hostile file), never money, and is
refused with the line, so the journal never stores a 5,000-digit "amount".

Values quoted in error messages are cut to their first :data:`SHOWN_CHARS` characters, so
a message stays one short line whatever the file holds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from skimd.errors import InvalidInputError

MAX_WHOLE_DIGITS = 12
MAX_DECIMAL_PLACES = 4
SHOWN_CHARS = 20

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


def shown(value: str) -> str:
    """``value`` quoted for a message: its start when it is long, with its length."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"


def parse_amount(
    text: str, decimal_separator: str = ".", thousands_separator: str = ","
) -> Decimal:
    """A signed Decimal from how banks write money.

    Accepts a leading ``+``/``-``, a trailing ``-``, ``(12.34)`` for negatives, a ``CR``
    (positive) or ``DR`` (negative) suffix, a ``$``/``A$`` prefix, and the configured
    separators. Raises ValueError (with the reason) for anything else, including empty text
    and amounts beyond the bounds in this module's docstring.
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
        raise ValueError(f"{shown(text.strip())} is not an amount")
    whole, _, fraction = s.partition(".")
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise ValueError(
            f"{shown(text.strip())} has more than {MAX_WHOLE_DIGITS} digits before the decimal "
            "point: no bank statement holds such an amount"
        )
    if len(fraction.rstrip("0")) > MAX_DECIMAL_PLACES:
        raise ValueError(
            f"{shown(text.strip())} has more than {MAX_DECIMAL_PLACES} decimal places: no bank "
            "statement holds such an amount"
        )
    value = Decimal(s)
    return -value if negative and value else value
