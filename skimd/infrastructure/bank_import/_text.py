"""Reading a statement file and parsing its amounts; shared by the CSV and OFX readers.

Files are read in chunks of :data:`CHUNK_BYTES`, decoded incrementally, never whole: memory
does not grow with the statement, and a byte the encoding cannot read is still reported
with its line and offset. :func:`split_lines` cuts the text into physical lines exactly as
``io.StringIO(text, newline="")`` would (``\n``, ``\r\n`` or a lone ``\r``), which is what
:mod:`csv` needs; a physical line longer than :data:`MAX_LINE_CHARS` is refused rather than
held (no bank writes one; it would be the only thing memory grows with).

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

import codecs
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from skimd.errors import InvalidInputError

MAX_WHOLE_DIGITS = 12
MAX_DECIMAL_PLACES = 4
SHOWN_CHARS = 20
CHUNK_BYTES = 1 << 18
MAX_LINE_CHARS = 1 << 20

_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_DRCR = re.compile(r"(?i)\s*(CR|DR)$")
_EOL = re.compile(r"\r\n|\r|\n")


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes (enough to tell OFX from CSV and to find a declared charset)."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the statement ({exc.strerror})") from exc


def read_chunks(
    path: Path, encoding: str, source: str, size: int = CHUNK_BYTES
) -> Iterator[str]:
    """The file's text, decoded a chunk at a time.

    Raises InvalidInputError for a file that cannot be read, an unknown encoding, or a byte
    the encoding cannot read (naming its line and its offset in the file).
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError as exc:
        raise InvalidInputError(f"{source}: unknown text encoding {encoding!r}") from exc
    fed = 0  # bytes given to the decoder so far
    newlines = 0  # in the text decoded so far
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InvalidInputError(f"{source}: cannot read the statement ({exc.strerror})") from exc
    with fh:
        while True:
            try:
                raw = fh.read(size)
            except OSError as exc:
                raise InvalidInputError(
                    f"{source}: cannot read the statement ({exc.strerror})"
                ) from exc
            try:
                text = decoder.decode(raw, not raw)
            except UnicodeDecodeError as exc:
                # exc.object is what the decoder held back from the last chunk, then `raw`
                # (utf-8-sig: without the BOM); exc.start is the bad byte's index in it.
                held = len(exc.object) - len(raw)
                before = exc.object[: exc.start].decode(encoding, "replace")
                line = newlines + before.count("\n") + 1
                raise InvalidInputError(
                    f"{source}: line {line}: not valid {encoding} text "
                    f"(byte {fed - held + exc.start})"
                ) from exc
            fed += len(raw)
            if text:
                newlines += text.count("\n")
                yield text
            if not raw:
                return


def split_lines(chunks: Iterable[str], source: str) -> Iterator[str]:
    """Physical lines with their endings, split as ``io.StringIO(newline="")`` splits."""
    rest = ""
    line = 1
    for chunk in chunks:
        text = rest + chunk
        start = 0
        for end_of_line in _EOL.finditer(text):
            end = end_of_line.end()
            if end == len(text) and end_of_line.group() == "\r":
                break  # the next chunk may start with the "\n" of this "\r\n"
            yield text[start:end]
            start = end
            line += 1
        rest = text[start:]
        if len(rest) > MAX_LINE_CHARS:
            raise InvalidInputError(
                f"{source}: line {line}: longer than {MAX_LINE_CHARS} characters; "
                "not a bank statement line"
            )
    if rest:
        yield rest


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
