"""Bank statements in OFX: SGML-style OFX 1.x and XML OFX 2.x, standard library only.

Both styles are read by one tolerant tag scanner rather than an XML parser, because OFX
1.x leaves leaf elements unclosed (``<TRNAMT>-12.50`` up to the next tag). Aggregates are
closed in both styles, so a tag with no text of its own opens an aggregate and its closing
tag ends it; a tag followed by text is a leaf (and an empty tag whose name is never closed
in the file is an empty leaf). Only leaves directly inside ``<STMTTRN>``
are read (a ``<PAYEE>``'s ``<NAME>`` is not the transaction's NAME).

Per transaction: TRNTYPE -> ``kind``, DTPOSTED -> ``posted_on`` (its date digits, as the
bank wrote them), TRNAMT -> ``amount`` (signed as in the file: credits positive), FITID ->
``reference`` (REFNUM or CHECKNUM when there is no FITID), NAME and MEMO -> ``description``.
The statement's CURDEF gives ``currency``. OFX carries no per-line balance: ``balance`` is
None.

Linear and streamed: the file is read twice in chunks (:func:`~._text.read_chunks`), never
whole. The first pass collects the names that are ever closed (the rule above needs them
before the first empty tag), the second yields each transaction when its ``</STMTTRN>`` is
read. Every character is scanned a fixed number of times and line numbers are counted as
the scan goes, so time grows with the file and memory with one transaction; text of more
than :data:`MAX_GAP_CHARS` between two tags is refused (no OFX element holds that much).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from skimd.errors import InvalidInputError

from ._text import parse_amount, read_chunks, read_head, shown
from .records import BankTxnRecord, txn_hash

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_.]*)(?:\s[^<>]*)?>")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SGML_CHARSET = re.compile(rb"CHARSET:\s*([A-Za-z0-9-]+)")
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_-]+)[\"']")
_CHARSETS = {b"1252": "cp1252", b"ISO-8859-1": "latin-1", b"8859-1": "latin-1"}
MAX_GAP_CHARS = 1 << 20


def looks_like_ofx(raw: bytes) -> bool:
    """True when the start of the file is an OFX header or ``<OFX>`` element."""
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return head.startswith(b"OFXHEADER") or b"<OFX>" in head or b"<?OFX" in head


def iter_ofx(path: Path, account: str) -> Iterator[BankTxnRecord]:
    """Every ``<STMTTRN>`` of an OFX file in file order, read as the iteration goes.

    A bad transaction raises InvalidInputError naming the file, the line and the element at
    fault when the iteration reaches it: a caller that stores transactions as they come must
    do so in one transaction to store nothing of a bad file.
    """
    source = str(path)
    encoding = _encoding(read_head(path, 2048))
    return scan_ofx(lambda: read_chunks(path, encoding, source), account, source=source)


def parse_ofx(path: Path, account: str) -> list[BankTxnRecord]:
    """:func:`iter_ofx` as a list: every transaction, or InvalidInputError (nothing partial)."""
    return list(iter_ofx(path, account))


def _encoding(raw: bytes) -> str:
    """The encoding the file declares (OFX 1.x CHARSET, XML encoding=), else UTF-8."""
    head = raw[:2048]
    xml = _XML_ENCODING.search(head)
    if xml:
        return xml.group(1).decode("ascii")
    sgml = _SGML_CHARSET.search(head)
    if sgml and sgml.group(1).upper() in _CHARSETS:
        return _CHARSETS[sgml.group(1).upper()]
    return "utf-8-sig"


@dataclass(slots=True)
class _Txn:
    line: int
    leaves: dict[str, tuple[str, int]] = field(default_factory=dict)


def parse_ofx_text(text: str, account: str, *, source: str = "<ofx>") -> list[BankTxnRecord]:
    """:func:`parse_ofx` on text already read; ``source`` names it in errors."""
    return list(scan_ofx(lambda: (text,), account, source=source))


def scan_ofx(
    chunks: Callable[[], Iterable[str]], account: str, *, source: str
) -> Iterator[BankTxnRecord]:
    """The transactions of the OFX text that ``chunks()`` gives, a piece at a time (called
    twice: once per pass); ``source`` names it in errors."""
    closed_names: set[str] = set()
    is_ofx = False
    for closing, name, _, _ in _tags(chunks(), source):
        if closing:
            closed_names.add(name)
        is_ofx = is_ofx or name == "OFX"
    if not is_ofx:
        raise InvalidInputError(f"{source}: not an OFX statement (no <OFX> element)")
    stack: list[str] = []
    current: _Txn | None = None
    currency: str | None = None
    for closing, name, text, line in _tags(chunks(), source):
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
            if name == "STMTTRN" and current is not None:
                yield _record(current, account, currency, source)
                current = None
            continue
        value = text.strip()
        if "&" in value:
            value = html.unescape(value).strip()
        if not value and name not in closed_names and name != "STMTTRN":
            continue  # an empty OFX 1.x leaf (``<MEMO>`` and nothing): no aggregate
        if not value:  # an aggregate opens
            if name == "STMTTRN":
                if current is not None:
                    raise InvalidInputError(
                        f"{source}: line {line}: <STMTTRN> inside the <STMTTRN> of line "
                        f"{current.line}"
                    )
                current = _Txn(line)
            stack.append(name)
        elif name == "CURDEF":
            currency = value.upper()
        elif current is not None and stack and stack[-1] == "STMTTRN":
            current.leaves.setdefault(name, (value, line))
    if current is not None:
        raise InvalidInputError(f"{source}: line {current.line}: <STMTTRN> is never closed")


def _tags(chunks: Iterable[str], source: str) -> Iterator[tuple[bool, str, str, int]]:
    """``(closing, NAME, text up to the next tag, line of the tag)`` for every tag.

    The text after the last tag of a chunk is carried into the next one (it may continue
    there, and so may a tag cut in two); before the first tag only a possible tag start is
    carried. Line numbers count the newlines between one tag and the next, once.
    """
    pending: tuple[bool, str, int] | None = None  # the last tag; its text may go on
    carry = ""
    line = 1  # at the start of `carry`
    for chunk in chunks:
        text = carry + chunk
        pos = 0
        for match in _TAG.finditer(text):
            start = match.start()
            line += text.count("\n", pos, start)
            if pending is not None:
                if start - pos > MAX_GAP_CHARS:
                    raise _too_long(pending, source)
                yield pending[0], pending[1], text[pos:start], pending[2]
            pending = (match.group(1) == "/", match.group(2).upper(), line)
            line += text.count("\n", start, match.end())
            pos = match.end()
        if pending is None:  # no tag yet (a header): keep only a tag that may be cut in two
            cut = text.rfind("<")
            cut = len(text) if cut < 0 else cut
            line += text.count("\n", pos, cut)
            pos = cut
        carry = text[pos:]
        if len(carry) > MAX_GAP_CHARS:
            raise _too_long(pending, source)
    if pending is not None:
        yield pending[0], pending[1], carry, pending[2]


def _too_long(tag: tuple[bool, str, int] | None, source: str) -> InvalidInputError:
    """A gap between tags no OFX element holds (the only thing memory would grow with)."""
    if tag is None:
        return InvalidInputError(
            f"{source}: more than {MAX_GAP_CHARS} characters before the first tag; "
            "not an OFX statement"
        )
    closing, name, line = tag
    return InvalidInputError(
        f"{source}: line {line}: more than {MAX_GAP_CHARS} characters after "
        f"<{'/' if closing else ''}{name}> without a tag; not an OFX statement"
    )


def _record(txn: _Txn, account: str, currency: str | None, source: str) -> BankTxnRecord:
    def required(name: str) -> tuple[str, int]:
        if name not in txn.leaves:
            raise InvalidInputError(f"{source}: line {txn.line}: <STMTTRN> has no <{name}>")
        return txn.leaves[name]

    raw_date, date_line = required("DTPOSTED")
    match = _DATE.match(raw_date)
    try:
        if match is None:
            raise ValueError(raw_date)
        posted_on = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise InvalidInputError(
            f"{source}: line {date_line}: <DTPOSTED>: {shown(raw_date)} is not an OFX date"
        ) from exc

    raw_amount, amount_line = required("TRNAMT")
    # OFX allows a comma as the decimal separator and has no thousands separator.
    separator = "," if "," in raw_amount and "." not in raw_amount else "."
    try:
        amount = parse_amount(raw_amount, separator, "")
    except ValueError as exc:
        raise InvalidInputError(f"{source}: line {amount_line}: <TRNAMT>: {exc}") from exc

    reference = next(
        (txn.leaves[k][0] for k in ("FITID", "REFNUM", "CHECKNUM") if k in txn.leaves), None
    )
    name = txn.leaves.get("NAME", ("", 0))[0]
    memo = txn.leaves.get("MEMO", ("", 0))[0]
    description = f"{name} - {memo}" if name and memo and memo != name else name or memo
    kind = txn.leaves.get("TRNTYPE", (None, 0))[0]
    return BankTxnRecord(
        account=account,
        posted_on=posted_on,
        amount=amount,
        description=description,
        reference=reference,
        balance=None,
        hash=txn_hash(account, posted_on, amount, description, reference),
        line=txn.line,
        kind=kind,
        currency=currency,
    )
