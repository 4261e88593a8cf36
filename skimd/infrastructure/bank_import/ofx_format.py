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
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from skimd.errors import InvalidInputError

from ._text import decode, parse_amount, read_bytes, shown
from .records import BankTxnRecord, txn_hash

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_.]*)(?:\s[^<>]*)?>")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SGML_CHARSET = re.compile(rb"CHARSET:\s*([A-Za-z0-9-]+)")
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_-]+)[\"']")
_CHARSETS = {b"1252": "cp1252", b"ISO-8859-1": "latin-1", b"8859-1": "latin-1"}


def looks_like_ofx(raw: bytes) -> bool:
    """True when the start of the file is an OFX header or ``<OFX>`` element."""
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return head.startswith(b"OFXHEADER") or b"<OFX>" in head or b"<?OFX" in head


def parse_ofx(path: Path, account: str) -> list[BankTxnRecord]:
    """Every ``<STMTTRN>`` of an OFX file in file order, or InvalidInputError (nothing
    partial) naming the file, the line and the element at fault."""
    raw = read_bytes(path)
    return parse_ofx_text(decode(raw, _encoding(raw), str(path)), account, source=str(path))


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
    if not re.search(r"<OFX\s*>", text, re.IGNORECASE):
        raise InvalidInputError(f"{source}: not an OFX statement (no <OFX> element)")
    records: list[BankTxnRecord] = []
    stack: list[str] = []
    current: _Txn | None = None
    currency: str | None = None
    tags = list(_TAG.finditer(text))
    closed_names = {t.group(2).upper() for t in tags if t.group(1) == "/"}
    for i, tag in enumerate(tags):
        closing, name = tag.group(1) == "/", tag.group(2).upper()
        line = text.count("\n", 0, tag.start()) + 1
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
            if name == "STMTTRN" and current is not None:
                records.append(_record(current, account, currency, source))
                current = None
            continue
        end = tags[i + 1].start() if i + 1 < len(tags) else len(text)
        value = html.unescape(text[tag.end() : end]).strip()
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
    return records


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
