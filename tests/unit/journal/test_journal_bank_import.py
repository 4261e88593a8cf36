"""Bank statements: CSV per config, OFX 1.x and 2.x, duplicates by hash, bad lines."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pytest

from skimd.errors import InvalidInputError
from skimd.infrastructure.bank_import import (
    AmountSign,
    CsvImportConfig,
    parse_csv,
    parse_csv_text,
    parse_ofx,
    parse_ofx_text,
    parse_statement,
    split_duplicates,
    txn_hash,
)
from skimd.infrastructure.bank_import._text import MAX_LINE_CHARS, read_chunks, split_lines
from skimd.infrastructure.bank_import.ofx_format import MAX_GAP_CHARS, scan_ofx

BANK = Path(__file__).resolve().parents[2] / "fixtures" / "bank"
ACCOUNT = "cba-12345678"

CBA = CsvImportConfig(
    name="cba",
    date_column="Date",
    amount_column="Amount",
    description_column="Description",
    reference_column="Reference",
    balance_column="Balance",
    skip_rows=2,
)


def test_csv_statement_with_a_duplicate_line() -> None:
    recs = parse_csv(BANK / "statement.csv", CBA, ACCOUNT)
    assert [(r.line, r.posted_on, r.amount) for r in recs] == [
        (4, date(2024, 7, 1), D("1234.50")),
        (5, date(2024, 7, 2), D("-4.80")),
        (7, date(2024, 7, 3), D("0.42")),
        (8, date(2024, 7, 2), D("-4.80")),
        (9, date(2024, 7, 5), D("-5000.00")),
    ]
    first = recs[0]
    assert first.description == "TRANSFER FROM IBKR, PAYOUT"
    assert (first.reference, first.balance, first.account) == ("TX1001", D("11234.50"), ACCOUNT)
    assert recs[1].reference is None
    assert recs[1].hash == recs[3].hash  # the repeated line
    assert len({r.hash for r in recs}) == 4
    unique, repeats = split_duplicates(recs)
    assert [r.line for r in unique] == [4, 5, 7, 9] and [r.line for r in repeats] == [8]


def test_hash_is_stable_and_normalised() -> None:
    h = txn_hash(ACCOUNT, date(2024, 7, 2), D("-4.80"), "CARD PURCHASE   COFFEE SYDNEY", None)
    assert h == txn_hash(
        " cba-12345678", date(2024, 7, 2), D("-4.8"), "card purchase coffee sydney ", ""
    )
    assert len(h) == 64 and int(h, 16) >= 0
    assert h != txn_hash("other-account", date(2024, 7, 2), D("-4.80"), "CARD PURCHASE", None)
    assert h != txn_hash(ACCOUNT, date(2024, 7, 2), D("-4.80"), "CARD PURCHASE", "REF1")
    parsed = parse_csv(BANK / "statement.csv", CBA, ACCOUNT)[1]
    assert parsed.hash == h  # re-importing the file gives the same hashes


def test_debit_credit_columns_with_a_decimal_comma() -> None:
    config = CsvImportConfig(
        name="ing-nl",
        date_column="Datum",
        description_column="Omschrijving",
        debit_column="Af",
        credit_column="Bij",
        date_format="%Y-%m-%d",
        delimiter=";",
        decimal_separator=",",
        thousands_separator=".",
        currency="EUR",
    )
    recs = parse_csv(BANK / "statement_debit_credit.csv", config, "ing-1")
    assert [(r.line, r.amount, r.description) for r in recs] == [
        (2, D("3210.55"), "Salary July"),
        (3, D("-1500.00"), "Rent"),
        (4, D("-1500.00"), "Rent"),
    ]
    assert recs[1].hash == recs[2].hash
    assert recs[0].currency == "EUR" and recs[0].balance is None


def test_bad_line_names_file_line_and_column_and_returns_nothing() -> None:
    config = CsvImportConfig(
        name="plain",
        date_column="Date",
        amount_column="Amount",
        description_column="Description",
    )
    path = BANK / "statement_bad_line.csv"
    with pytest.raises(InvalidInputError) as err:
        parse_csv(path, config, ACCOUNT)
    message = str(err.value)
    # line 6, not 5: the quoted description before it spans two lines
    assert message.startswith(f"{path}: line 6: column 'Amount':")
    assert "'12.3x' is not an amount" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Date,Description,Amount\n31/02/2024,X,1.00\n", "line 2: column 'Date': '31/02/2024'"),
        ("Date,Description,Amount\n01/07/2024,X,\n", "line 2: column 'Amount': is empty"),
        ("Date,Description,Amount\n01/07/2024,X\n", "line 2: column 'Amount' is missing"),
        ("Date,Memo,Amount\n01/07/2024,X,1\n", "line 1: header has no column 'Description'"),
        ('Date,Description,Amount\n01/07/2024,"X,1.00\n', "line 2: unreadable CSV"),
        ("", "no header row"),
    ],
)
def test_each_kind_of_bad_csv_input_is_reported(body: str, expected: str) -> None:
    config = CsvImportConfig(
        name="plain", date_column="Date", amount_column="Amount", description_column="Description"
    )
    with pytest.raises(InvalidInputError, match=expected.replace("(", r"\(")):
        parse_csv_text(body, config, ACCOUNT, source="s.csv")


def test_amount_notations_and_debit_positive_banks() -> None:
    body = (
        "when,what,amount\n"
        "01/07/2024,a,(12.50)\n"
        "01/07/2024,b,12.50 DR\n"
        "01/07/2024,c,$1,000.00 CR\n"
        "01/07/2024,d,7.25-\n"
    )
    config = CsvImportConfig(
        name="x",
        date_column="WHEN",  # header names match case-insensitively
        amount_column="amount",
        description_column="what",
        delimiter=",",
        thousands_separator="",
    )
    with pytest.raises(InvalidInputError, match="line 4: 4 fields but the header has 3"):
        parse_csv_text(body, config, ACCOUNT)  # the unquoted "$1,000.00" splits in two
    body = body.replace("$1,000.00 CR", '"$1,000.00 CR"')
    config = CsvImportConfig(
        name="x", date_column="when", amount_column="amount", description_column="what"
    )
    amounts = [r.amount for r in parse_csv_text(body, config, ACCOUNT)]
    assert amounts == [D("-12.50"), D("-12.50"), D("1000.00"), D("-7.25")]
    flipped = CsvImportConfig(
        name="y",
        date_column="when",
        amount_column="amount",
        description_column="what",
        amount_sign=AmountSign.DEBIT_POSITIVE,
    )
    assert [r.amount for r in parse_csv_text(body, flipped, ACCOUNT)] == [-a for a in amounts]


def test_headerless_csv_uses_column_numbers() -> None:
    config = CsvImportConfig(
        name="nab",
        date_column="0",
        amount_column="1",
        description_column="3",
        has_header=False,
        date_format="%d %b %y",
    )
    (rec,) = parse_csv_text("01 Jul 24,-20.00,,EFTPOS WOOLWORTHS\n", config, ACCOUNT)
    assert (rec.posted_on, rec.amount, rec.description) == (
        date(2024, 7, 1),
        D("-20.00"),
        "EFTPOS WOOLWORTHS",
    )


def test_config_from_a_table_row_and_invalid_configs() -> None:
    row = SimpleNamespace(
        id=3,
        name="cba",
        date_column="Date",
        amount_column="Amount",
        description_column="Description",
        date_format="%d/%m/%Y",
        delimiter=",",
        created_at=None,
    )
    config = CsvImportConfig.from_row(row)
    assert config.amount_column == "Amount" and config.skip_rows == 0
    with pytest.raises(InvalidInputError, match=r"'both'.*either amount_column"):
        CsvImportConfig(
            name="both",
            date_column="d",
            description_column="x",
            amount_column="a",
            debit_column="b",
        )
    with pytest.raises(InvalidInputError, match=r"'sep'.*separators are the same"):
        CsvImportConfig(
            name="sep",
            date_column="d",
            description_column="x",
            amount_column="a",
            decimal_separator=",",
        )


def test_ofx_sgml_and_xml_give_the_same_lines_and_hashes() -> None:
    v1 = parse_ofx(BANK / "statement_v1.ofx", ACCOUNT)
    v2 = parse_ofx(BANK / "statement_v2.ofx", ACCOUNT)
    expected = [
        (date(2024, 7, 1), D("1234.50"), "TRANSFER FROM IBKR - PAYOUT & INTEREST", "CREDIT"),
        (date(2024, 7, 2), D("-4.80"), "CARD PURCHASE - COFFEE SYDNEY", "POS"),
        (date(2024, 7, 2), D("-4.80"), "CARD PURCHASE - COFFEE SYDNEY", "POS"),
        (date(2024, 7, 5), D("-5000.00"), "TRANSFER TO IBKR", "DEBIT"),
    ]
    for recs in (v1, v2):
        assert [(r.posted_on, r.amount, r.description, r.kind) for r in recs] == expected
        assert [r.reference for r in recs] == [
            "202407010001",
            "202407020001",
            "202407020001",
            "202407050001",
        ]
        assert {r.currency for r in recs} == {"AUD"}
        assert all(r.balance is None for r in recs)
        assert recs[1].hash == recs[2].hash  # the duplicate
    assert [r.hash for r in v1] == [r.hash for r in v2]
    assert [r.line for r in v1][:2] == [39, 47]


def test_parse_statement_picks_the_format() -> None:
    assert len(parse_statement(BANK / "statement_v1.ofx", ACCOUNT)) == 4
    assert len(parse_statement(BANK / "statement_v2.ofx", ACCOUNT)) == 4
    assert len(parse_statement(BANK / "statement.csv", ACCOUNT, CBA)) == 5
    with pytest.raises(InvalidInputError, match="no bank import config"):
        parse_statement(BANK / "statement.csv", ACCOUNT)
    with pytest.raises(InvalidInputError, match="cannot read"):
        parse_statement(BANK / "missing.csv", ACCOUNT, CBA)


OFX_HEAD = "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>\n<BANKTRANLIST>\n"  # 5 lines
OFX_TAIL = "\n</BANKTRANLIST>\n</OFX>\n"


@pytest.mark.parametrize(
    ("txn", "expected"),
    [
        (
            "<STMTTRN>\n<TRNTYPE>DEBIT\n<TRNAMT>-1\n</STMTTRN>",
            "line 6: <STMTTRN> has no <DTPOSTED>",
        ),
        ("<STMTTRN>\n<DTPOSTED>20241340\n<TRNAMT>-1\n</STMTTRN>", "line 7: <DTPOSTED>: '20241340'"),
        ("<STMTTRN>\n<DTPOSTED>20240701\n<TRNAMT>12..5\n</STMTTRN>", "line 8: <TRNAMT>: '12..5'"),
        ("<STMTTRN>\n<DTPOSTED>20240701\n<TRNAMT>1\n", "line 6: <STMTTRN> is never closed"),
        (
            "<STMTTRN>\n<DTPOSTED>20240701\n<STMTTRN>",
            "line 8: <STMTTRN> inside the <STMTTRN> of line 6",
        ),
    ],
)
def test_bad_ofx_transaction_names_the_line_and_element(txn: str, expected: str) -> None:
    good = "<STMTTRN>\n<DTPOSTED>20240630\n<TRNAMT>5\n</STMTTRN>\n"
    assert len(parse_ofx_text(OFX_HEAD + good + OFX_TAIL, ACCOUNT)) == 1
    with pytest.raises(InvalidInputError, match="s.ofx: " + expected):
        parse_ofx_text(OFX_HEAD + txn + OFX_TAIL, ACCOUNT, source="s.ofx")


def test_empty_sgml_leaf_does_not_swallow_the_rest() -> None:
    text = OFX_HEAD + (
        "<STMTTRN>\n<TRNTYPE>FEE\n<MEMO>\n<DTPOSTED>20240701\n<TRNAMT>-2.50\n"
        "<FITID>F1\n</STMTTRN>\n</BANKTRANLIST>\n</OFX>\n"
    )
    (rec,) = parse_ofx_text(text, ACCOUNT)
    assert (rec.amount, rec.reference, rec.description) == (D("-2.50"), "F1", "")


def test_not_ofx_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"x.ofx: not an OFX statement"):
        parse_ofx_text("Date,Amount\n", ACCOUNT, source="x.ofx")


def test_declared_ofx_charset_is_honoured_and_bad_bytes_are_located(tmp_path: Path) -> None:
    ofx = tmp_path / "cp1252.ofx"
    body = OFX_HEAD.replace("DATA:OFXSGML", "DATA:OFXSGML\nCHARSET:1252") + (
        "<STMTTRN>\n<DTPOSTED>20240701\n<TRNAMT>-3.00\n<NAME>CAF\xc9 \u20ac\n</STMTTRN>" + OFX_TAIL
    )
    ofx.write_bytes(body.encode("cp1252"))
    (rec,) = parse_ofx(ofx, ACCOUNT)
    assert rec.description == "CAF\xc9 \u20ac"

    csv_file = tmp_path / "latin.csv"
    csv_file.write_bytes(b"Date,Description,Amount\n01/07/2024,ok,1\n01/07/2024,CAF\xc9,2\n")
    with pytest.raises(InvalidInputError, match=r"latin\.csv: line 3: not valid utf-8-sig"):
        parse_csv(csv_file, CBA_PLAIN, ACCOUNT)
    latin = CsvImportConfig(
        name="latin",
        date_column="Date",
        amount_column="Amount",
        description_column="Description",
        encoding="latin-1",
    )
    assert parse_csv(csv_file, latin, ACCOUNT)[1].description == "CAF\xc9"


CBA_PLAIN = CsvImportConfig(
    name="plain", date_column="Date", amount_column="Amount", description_column="Description"
)


# -- amounts a bank statement can hold -------------------------------------------------------


HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (HUGE, "more than 12 digits before the decimal point"),
        ("-1234567890123.00", "more than 12 digits before the decimal point"),
        ("0.000001", "more than 4 decimal places"),
        ("1." + "1" * 5000, "more than 4 decimal places"),
    ],
)
def test_an_amount_no_bank_statement_holds_is_refused_naming_file_line_and_start(
    amount: str, why: str
) -> None:
    body = f'Date,Description,Amount\n01/07/2024,ok,1.00\n01/07/2024,big,"{amount}"\n'
    with pytest.raises(InvalidInputError) as err:
        parse_csv_text(body, CBA_PLAIN, ACCOUNT, source="s.csv")
    message = str(err.value)
    assert message.startswith(f"s.csv: line 3: column 'Amount': {amount[:20]!r}")
    assert why in message
    assert len(message) < 200 and "\n" not in message

    ofx = OFX_HEAD + f"<STMTTRN>\n<DTPOSTED>20240701\n<TRNAMT>{amount}\n</STMTTRN>" + OFX_TAIL
    with pytest.raises(InvalidInputError) as err:
        parse_ofx_text(ofx, ACCOUNT, source="s.ofx")
    message = str(err.value)
    assert message.startswith(f"s.ofx: line 8: <TRNAMT>: {amount[:20]!r}")
    assert why in message and len(message) < 200


@pytest.mark.parametrize(
    "amount",
    ["999999999999.99", "-999,999,999,999.9999", "0000000000000001.50", "12.500000", "0.0001"],
)
def test_the_largest_and_finest_amounts_a_statement_holds_are_kept(amount: str) -> None:
    body = f'Date,Description,Amount\n01/07/2024,ok,"{amount}"\n'
    (rec,) = parse_csv_text(body, CBA_PLAIN, ACCOUNT)
    assert rec.amount == D(amount.replace(",", ""))


def test_a_long_value_is_shown_by_its_start_in_every_message() -> None:
    junk = "x" * 5000
    for body, where in (
        (f"Date,Description,Amount\n01/07/2024,ok,{junk}\n", "column 'Amount'"),
        (f"Date,Description,Amount\n{junk},ok,1\n", "column 'Date'"),
    ):
        with pytest.raises(InvalidInputError) as err:
            parse_csv_text(body, CBA_PLAIN, ACCOUNT, source="s.csv")
        assert f"s.csv: line 2: {where}: {junk[:20]!r}" in str(err.value)
        assert len(str(err.value)) < 200
    ofx = OFX_HEAD + f"<STMTTRN>\n<DTPOSTED>{junk}\n<TRNAMT>1\n</STMTTRN>" + OFX_TAIL
    with pytest.raises(InvalidInputError, match=f"line 7: <DTPOSTED>: '{junk[:20]}'") as err:
        parse_ofx_text(ofx, ACCOUNT, source="s.ofx")
    assert len(str(err.value)) < 200


# -- streaming: the same lines whatever the chunks ------------------------------------------


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("name", ["statement_v1.ofx", "statement_v2.ofx"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_ofx_read_in_any_chunks_gives_the_same_lines_and_line_numbers(name: str, size: int) -> None:
    text = (BANK / name).read_text(encoding="utf-8")
    whole = parse_ofx_text(text, ACCOUNT, source=name)
    pieces = list(scan_ofx(lambda: chunked(text, size), ACCOUNT, source=name))
    assert pieces == whole
    lines = [39, 47, 59, 67] if name.endswith("v1.ofx") else [25, 33, 42, 50]
    assert [r.line for r in whole] == lines


@pytest.mark.parametrize("size", [1, 2, 5, 4096])
def test_ofx_errors_keep_their_line_numbers_across_chunks(size: int) -> None:
    txn = "<STMTTRN>\n<DTPOSTED>20240701\n<TRNAMT>12..5\n</STMTTRN>"
    text = OFX_HEAD + "\n" * 3000 + txn + OFX_TAIL
    with pytest.raises(InvalidInputError, match=r"s\.ofx: line 3008: <TRNAMT>: '12\.\.5'"):
        list(scan_ofx(lambda: chunked(text, size), ACCOUNT, source="s.ofx"))


def test_ofx_with_pages_of_text_between_tags_is_refused() -> None:
    text = OFX_HEAD + "<STMTTRN>\n<NAME>" + "x" * (MAX_GAP_CHARS + 1) + OFX_TAIL
    expected = rf"s\.ofx: line 7: more than {MAX_GAP_CHARS} characters after <NAME>"
    with pytest.raises(InvalidInputError, match=expected):
        list(scan_ofx(lambda: chunked(text, 1 << 16), ACCOUNT, source="s.ofx"))


@pytest.mark.parametrize("size", [1, 2, 3, 8, 1000])
def test_lines_split_as_csv_needs_them_whatever_the_chunks(size: int) -> None:
    text = 'a,b\r\nc,"multi\rline"\rd,e\n\nf,g\r\n\r\nlast'
    expected = io.StringIO(text, newline="").readlines()
    assert list(split_lines(chunked(text, size), "s.csv")) == expected
    body = 'Date,Description,Amount\r\n01/07/2024,"a\r\nb",1\r\n'
    rows = parse_csv_text(body, CBA_PLAIN, ACCOUNT)
    assert rows[0].description == "a\r\nb"


def test_a_physical_line_longer_than_any_bank_writes_is_refused() -> None:
    text = "Date,Description,Amount\n01/07/2024,x,1\n" + "y" * (MAX_LINE_CHARS + 10)
    with pytest.raises(InvalidInputError, match=r"s\.csv: line 3: longer than"):
        list(split_lines(chunked(text, 1 << 16), "s.csv"))


@pytest.mark.parametrize(
    ("encoding", "bad"), [("utf-8-sig", b"\xff"), ("utf-8", b"\xc3"), ("ascii", b"\x80")]
)
def test_a_bad_byte_far_into_the_file_is_located_exactly(
    tmp_path: Path, encoding: str, bad: bytes
) -> None:
    head = b"Date,Description,Amount\n" + b"01/07/2024,ok,1\n" * 20_000
    path = tmp_path / "far.csv"
    path.write_bytes(b"\xef\xbb\xbf" * (encoding == "utf-8-sig") + head + b"01/07/2024,CAF" + bad)
    offset = len(head) + 14 + 3 * (encoding == "utf-8-sig")
    with pytest.raises(InvalidInputError) as err:
        list(read_chunks(path, encoding, str(path), size=4096))
    assert str(err.value) == f"{path}: line 20002: not valid {encoding} text (byte {offset})"


def test_an_unreadable_statement_is_named() -> None:
    with pytest.raises(InvalidInputError, match=rf"{BANK}: cannot read the statement"):
        parse_statement(BANK, ACCOUNT, CBA)
