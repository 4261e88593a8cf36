"""IBKR JSON → domain objects. Pure functions, lenient about IBKR's many spellings.

IBKR formats numbers as strings with decorations: snapshot prices may carry a ``C`` prefix
(yesterday's close shown before the open) or ``H`` (halted), thousands separators, and
volumes such as ``"1.23M"``. Order endpoints disagree on key names (``orderId`` /
``order_id``, ``status`` / ``order_status``, ``side`` ``"BUY"`` / ``"B"``); each parser
accepts both. History rows are mapped in :mod:`.history`.

Sources (checked for issue 14): IBKR's OpenAPI spec "IB REST API" v2.29.0,
https://api.ibkr.com/gw/api/v3/api-docs ("[spec]" below), and IBKR's Web API documentation,
https://www.interactivebrokers.com/campus/ibkr-api-page/webapi-doc/ ("[doc]").

Executions (``/iserver/account/trades``) carry ``sec_type``; an option's row (``"OPT"``) names
its underlying in ``contract_description_1`` (IBKR: "the underlying symbol of the contract")
and the contract in ``contract_description_2`` ("a full description of the derivative", e.g.
``"(EX2) OCT23 4300 Put Fut. Option"`` in a captured futures-option row), and reports
``net_amount`` including the contract multiplier. :func:`option_leg_from_trade` reads the
contract from those (see there); a description it cannot read leaves the fill an ``OPT`` fill
without its contract, logged, never an error.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from skimd.domain.account import AccountSummary, Position
from skimd.domain.market import Quote
from skimd.domain.orders import (
    OPTION,
    STOCK,
    Fill,
    OptionLeg,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from skimd.errors import InvalidInputError

log = structlog.get_logger(__name__)

# Snapshot field ids ([spec] ``MdFields``): 31 Last ("May contain one of the following
# prefixes: C - Previous day's closing price. H - Trading has halted."), 55 Symbol, 70/71 the
# day's high/low, 84/86 bid/ask, 87 "Volume for the day" (formatted, e.g. "1.2K"), 7295 Open,
# 7741 Prior Close, 7762 "Volume Long. High precision volume for the day". Whether ASX volumes
# are shares or lots the Web API does not say; they are taken as shares, as IBKR's TWS API
# counts lots of 100 for US stocks only (tick 8 "Volume",
# https://interactivebrokers.github.io/tws-api/tick_types.html).
F_LAST, F_SYMBOL, F_HIGH, F_LOW = "31", "55", "70", "71"
F_BID, F_ASK, F_VOLUME = "84", "86", "87"
F_OPEN, F_PRIOR_CLOSE, F_VOLUME_LONG = "7295", "7741", "7762"
SNAPSHOT_FIELDS = (F_LAST, F_SYMBOL, F_HIGH, F_LOW, F_BID, F_ASK, F_VOLUME,
                   F_OPEN, F_PRIOR_CLOSE, F_VOLUME_LONG)
_DATA_FIELDS = (F_LAST, F_BID, F_ASK, F_OPEN, F_HIGH, F_LOW, F_PRIOR_CLOSE)

_PRICE_PREFIX = re.compile(r"^[A-Za-z]+")
_SUFFIX = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}

_STATUS = {
    "pendingsubmit": OrderStatus.PENDING_SUBMIT,
    "apipending": OrderStatus.PENDING_SUBMIT,
    "presubmitted": OrderStatus.SUBMITTED,
    "submitted": OrderStatus.SUBMITTED,
    "pendingcancel": OrderStatus.SUBMITTED,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "apicancelled": OrderStatus.CANCELLED,
    "inactive": OrderStatus.INACTIVE,
    "rejected": OrderStatus.REJECTED,
}
_ORDER_TYPE = {
    "lmt": OrderType.LMT, "limit": OrderType.LMT,
    "mkt": OrderType.MKT, "market": OrderType.MKT,
    "stp": OrderType.STP, "stop": OrderType.STP,
}


def parse_price(value: Any) -> Decimal | None:
    """``"C12.34"`` / ``"H1,234.5"`` / ``12.3`` → Decimal; blanks and junk → None."""
    if value is None or isinstance(value, bool):
        return None
    text = _PRICE_PREFIX.sub("", str(value).strip()).replace(",", "")
    if not text or text.lower() in ("nan", "n/a", "-"):
        return None
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def volume_decimal(value: Any) -> Decimal | None:
    """``"1.23M"`` → 1230000, ``"12,345"`` → 12345, ``266616.18`` → 266616.18; junk → None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace(",", "").upper()
    factor = 1
    if text and text[-1] in _SUFFIX:
        factor, text = _SUFFIX[text[-1]], text[:-1]
    try:
        result = Decimal(text) * factor
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def parse_volume(value: Any) -> int | None:
    """A volume as whole shares (rounded down): ``"1.23M"`` → 1230000; junk → None."""
    volume = volume_decimal(value)
    return None if volume is None else int(volume)


def snapshot_has_data(row: Mapping[str, Any]) -> bool:
    """False for IBKR's pre-flight rows (only ``conid``/``_updated`` and housekeeping)."""
    return any(parse_price(row.get(f)) is not None for f in _DATA_FIELDS)


def quote_from_snapshot(row: Mapping[str, Any], symbol: str, fallback_at: datetime) -> Quote:
    updated = row.get("_updated")
    at = (
        datetime.fromtimestamp(int(updated) / 1000, UTC)
        if isinstance(updated, int | float) and updated > 0
        else fallback_at
    )
    volume = parse_volume(row.get(F_VOLUME_LONG))
    if volume is None:
        volume = parse_volume(row.get(F_VOLUME))
    return Quote(
        conid=int(row["conid"]),
        symbol=str(row.get(F_SYMBOL) or symbol),
        at=at,
        last=parse_price(row.get(F_LAST)),
        bid=parse_price(row.get(F_BID)),
        ask=parse_price(row.get(F_ASK)),
        open=parse_price(row.get(F_OPEN)),
        high=parse_price(row.get(F_HIGH)),
        low=parse_price(row.get(F_LOW)),
        prev_close=parse_price(row.get(F_PRIOR_CLOSE)),
        volume=volume,
    )


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return value
    return None


def parse_side(value: Any) -> Side:
    text = str(value or "").strip().upper()
    if text in ("B", "BUY", "BOT"):
        return Side.BUY
    if text in ("S", "SELL", "SLD", "SSHORT"):
        return Side.SELL
    raise ValueError(f"unknown side {value!r}")


def parse_status(value: Any, filled: int, qty: int) -> OrderStatus:
    status = _STATUS.get(str(value or "").replace("_", "").replace(" ", "").lower())
    if status is None:
        status = OrderStatus.SUBMITTED
    if status is OrderStatus.SUBMITTED and 0 < filled < qty:
        return OrderStatus.PARTIALLY_FILLED
    return status


def order_state_from(
    row: Mapping[str, Any], *, client_order_id: str | None = None, symbol: str = ""
) -> OrderState:
    """One order from ``/iserver/account/orders`` or ``/iserver/account/order/status``.

    - Live orders ([spec] ``/iserver/account/orders``) use camelCase (``orderId``,
      ``totalSize``, ``filledQuantity``, ``status``, ``orderType`` "Limit"/"Market"/"Stop",
      ``origOrderType`` "LIMIT"/..., ``timeInForce``, ``side`` "BUY"/"SELL", ``price``) and carry
      the cOID as ``order_ref`` ([doc] "Monitoring Live Orders" example; the [spec] schema omits
      it, its ``/iserver/account/trades`` rows define it: "Specified via cOID during order
      submission").
    - Order status ([spec] ``/iserver/account/order/status/{orderId}``) uses snake_case
      (``order_id``, ``total_size``, ``cum_fill``, ``size`` = the remaining quantity,
      ``order_status``, ``order_type`` "MARKET"/..., ``tif``, ``side`` "S"/"B" in IBKR's
      example) and carries no cOID at all: the caller passes ``client_order_id`` from what it
      learnt at placement or from live orders. The spec documents no price fields there.
    - A STP order's stop is sent as ``price`` ([doc] bracket example ``"orderType": "STP",
      "price": 157.30``; IBKR's older Client Portal swagger: "For STP this is the stop price",
      while ``auxPrice`` is the stop of a STOP_LIMIT order, whose ``price`` is the limit). Which
      key live orders report a stop under is not documented; ``stop_price``, ``auxPrice`` and
      ``price`` are tried in that order.
    """
    filled = int(parse_price(_first(row, "filledQuantity", "cum_fill")) or 0)
    total = parse_price(_first(row, "totalSize", "total_size"))
    # order status's ``size`` is what remains, not the order's size
    qty = int(total) if total is not None else int(parse_price(row.get("size")) or 0) + filled
    status = parse_status(_first(row, "status", "order_status"), filled, qty)
    kind = _ORDER_TYPE.get(str(_first(row, "orderType", "origOrderType", "order_type")).lower())
    limit = parse_price(_first(row, "limit_price", "price")) if kind is OrderType.LMT else None
    stop = None
    if kind is OrderType.STP:
        stop = parse_price(_first(row, "stop_price", "auxPrice", "price"))
    tif_text = str(_first(row, "timeInForce", "tif") or "").upper()
    tif = TimeInForce(tif_text) if tif_text in TimeInForce.__members__ else None
    return OrderState(
        broker_order_id=str(_first(row, "orderId", "order_id")),
        client_order_id=_first(row, "order_ref", "cOID") or client_order_id,
        status=status,
        symbol=str(_first(row, "ticker", "symbol") or symbol),
        conid=int(_first(row, "conid") or 0),
        side=parse_side(row.get("side")),
        qty=qty,
        filled_qty=filled,
        avg_fill_price=parse_price(_first(row, "avgPrice", "average_price")),
        remaining=0 if status.is_terminal else max(0, qty - filled),
        order_type=kind,
        limit_price=limit,
        stop_price=stop,
        tif=tif,
        message=_first(row, "order_status_description") if status.is_terminal else None,
    )


def fill_from_trade(row: Mapping[str, Any], broker_order_id: str) -> Fill:
    """One execution of ``/iserver/account/trades``. Raises KeyError/ValueError/TypeError for
    a row that is not an execution of ours to book (no id or time, an unknown side such as
    ``"X"``, an option expiry); the caller skips it."""
    sec_type = str(_first(row, "sec_type", "secType", "assetClass") or STOCK).strip().upper()
    symbol = str(_first(row, "symbol", "contract_description_1") or "")
    option = None
    if sec_type == OPTION:
        option = option_leg_from_trade(row)
        if option is None:
            log.warning(
                "option execution's contract not understood; kept without it",
                execution_id=str(row.get("execution_id")),
                description=str(_first(row, "contract_description_2", "contract_description_1")),
            )
        else:
            symbol = option.underlying
    return Fill(
        exec_id=str(row["execution_id"]),
        broker_order_id=str(_first(row, "order_id", "orderId") or broker_order_id),
        client_order_id=_first(row, "order_ref"),
        symbol=symbol,
        conid=int(_first(row, "conid") or 0),
        side=parse_side(row.get("side")),
        qty=int(parse_price(row.get("size")) or 0),
        price=parse_price(row.get("price")) or Decimal(0),
        commission=abs(parse_price(row.get("commission")) or Decimal(0)),
        executed_at=datetime.fromtimestamp(int(row["trade_time_r"]) / 1000, UTC),
        account=str(_first(row, "account", "accountCode") or ""),
        sec_type=sec_type,
        option=option,
    )


# -- option contracts from execution descriptions --------------------------------------------

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_MON = "(?P<mon>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
# [BHP 261224C00045000 100]: root, YYMMDD, right, strike x 1000, multiplier (OCC style, as in
# IBKR's position descriptions "NVDA JAN2027 180 P [NVDA  270115P00180000 100]")
_OCC = re.compile(
    r"\[\s*(?P<root>[A-Z0-9.]+)\s+(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})"
    r"(?:\s+(?P<mult>\d+))?\s*\]"
)
_BRACKETS = re.compile(r"\[[^\]]*\]")
_CLASS = re.compile(r"^\([^)]*\)\s*")
_EXPIRIES = (  # most specific first; each names its day, month and year groups
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
    re.compile(r"\b(?P<y>20\d{2})(?P<m>\d{2})(?P<d>\d{2})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})\s?{_MON}\s?'?(?P<y>\d{{4}}|\d{{2}})\b"),
    re.compile(rf"\b{_MON}\s?(?P<d>\d{{1,2}})\s?'(?P<y>\d{{2}})\b"),
    re.compile(rf"\b{_MON}\s?'?(?P<y>\d{{4}}|\d{{2}})\b"),  # month only
)
_RIGHT = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def option_leg_from_trade(row: Mapping[str, Any]) -> OptionLeg | None:
    """The option contract of one ``/iserver/account/trades`` row, or None when it cannot be
    read with confidence.

    - underlying: ``contract_description_1`` (IBKR's "underlying symbol"), else ``symbol``,
      else the root inside an OCC-style bracket;
    - structured fields when a row has them (``strike``, ``right``/``putOrCall``,
      ``expiry``/``maturityDate``, ``multiplier``);
    - else the description (``contract_description_2``, or a longer
      ``contract_description_1``): an OCC-style bracket ``[BHP 261224C00045000 100]`` wins;
      otherwise the readable part, after any ``(CLASS)`` prefix, gives the expiry (ISO,
      ``YYYYMMDD``, ``24DEC26``, ``DEC 24 '26``, or a month alone: ``DEC26``/``DEC2026``),
      the strike (the first plain number left) and the right (``C``/``P``/``Call``/``Put``).
      A month alone means the ASX monthly expiry: the Thursday before the month's last Friday;
    - multiplier: the bracket's, else ``net_amount / (size x price)`` when that is a whole
      number (IBKR's ``net_amount`` includes the multiplier), else 100 (ASX equity options).
    """
    underlying = _underlying(row)
    texts = [str(t) for t in (row.get("contract_description_2"), row.get("contract_description_1"))
             if t]
    description = next((t for t in texts if len(t.split()) > 1), "").upper()
    occ = _OCC.search(description)
    right = _RIGHT.get(str(_first(row, "right", "putOrCall") or "").strip().upper())
    strike = parse_price(row.get("strike"))
    expiry = _date_field(_first(row, "expiry", "maturityDate", "lastTradingDay"))
    multiplier = _int(row.get("multiplier"))
    if occ is not None:
        underlying = underlying or occ["root"]
        right = right or occ["right"]
        strike = strike or Decimal(occ["strike"]) / 1000
        expiry = expiry or _yymmdd(occ["ymd"])
        multiplier = multiplier or _int(occ["mult"])
    if right is None or strike is None or expiry is None:
        r, k, e = _readable(description, underlying)
        right, strike, expiry = right or r, strike or k, expiry or e
    if not underlying or right is None or strike is None or expiry is None:
        return None
    try:
        return OptionLeg(
            underlying=underlying,
            right=right,
            strike=_trim(strike),
            expiry=expiry,
            multiplier=multiplier or _implied_multiplier(row) or 100,
        )
    except InvalidInputError:
        return None


def _trim(value: Decimal) -> Decimal:
    """45.00 → 45, 45.50 → 45.5, without exponent form (4300 stays 4300)."""
    trimmed = value.normalize()
    exponent = trimmed.as_tuple().exponent
    return trimmed.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else trimmed


def _underlying(row: Mapping[str, Any]) -> str | None:
    for key in ("contract_description_1", "symbol", "underlying", "undSym"):
        words = str(row.get(key) or "").split()
        if words and re.fullmatch(r"[A-Z0-9.]+", words[0].upper()):
            return words[0].upper()
    return None


def _readable(text: str, underlying: str | None) -> tuple[str | None, Decimal | None, date | None]:
    rest = _CLASS.sub("", _BRACKETS.sub(" ", text)).strip()
    if underlying and rest.split()[:1] == [underlying]:
        rest = rest[len(underlying):]
    expiry = None
    for pattern in _EXPIRIES:
        match = pattern.search(rest)
        if match is not None:
            expiry = _expiry(match)
            rest = rest[: match.start()] + " " + rest[match.end():]
            break
    words = rest.replace(",", " ").split()
    rights = [_RIGHT[w] for w in words if w in _RIGHT]
    numbers = [w for w in words if _NUMBER.match(w)]
    strike = Decimal(numbers[0]) if numbers else None
    return (rights[-1] if rights else None), strike, expiry


def _expiry(match: re.Match[str]) -> date | None:
    groups = match.groupdict()
    month = _MONTHS[groups["mon"]] if groups.get("mon") else int(groups["m"])
    year = int(groups["y"])
    year = year + 2000 if year < 100 else year
    try:
        if groups.get("d") is None:
            return _asx_monthly_expiry(year, month)
        return date(year, month, int(groups["d"]))
    except ValueError:
        return None


def _asx_monthly_expiry(year: int, month: int) -> date:
    """ASX equity options' standard expiry: the Thursday before the month's last Friday."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    last_friday = last - timedelta(days=(last.weekday() - calendar.FRIDAY) % 7)
    return last_friday - timedelta(days=1)


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _date_field(value: Any) -> date | None:
    text = str(value or "").strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).date()
        except ValueError:
            continue
    return None


def _int(value: Any) -> int | None:
    number = parse_price(value)
    if number is None or number <= 0 or number != number.to_integral_value():
        return None
    return int(number)


def _implied_multiplier(row: Mapping[str, Any]) -> int | None:
    net = parse_price(row.get("net_amount"))
    size = parse_price(row.get("size"))
    price = parse_price(row.get("price"))
    if net is None or size is None or price is None or size <= 0 or price <= 0:
        return None
    ratio = abs(net) / (size * price)
    whole = ratio.to_integral_value()
    if whole < 1 or abs(ratio - whole) > whole / 100:  # within 1%: net may be rounded
        return None
    return int(whole)


def position_from(row: Mapping[str, Any], account: str) -> Position:
    return Position(
        account=account,
        symbol=str(_first(row, "ticker", "contractDesc") or "").upper(),
        conid=int(row["conid"]),
        qty=int(parse_price(row.get("position")) or 0),
        avg_cost=parse_price(_first(row, "avgCost", "avgPrice")) or Decimal(0),
        market_price=parse_price(row.get("mktPrice")),
    )


def summary_from(body: Mapping[str, Any], account_id: str) -> AccountSummary:
    def amount(*keys: str) -> tuple[Decimal, str | None]:
        for key in keys:
            entry = body.get(key)
            if isinstance(entry, dict) and not entry.get("isNull"):
                value = parse_price(entry.get("amount"))
                if value is not None:
                    return value, entry.get("currency")
        return Decimal(0), None

    cash, currency = amount("totalcashvalue", "settledcash")
    net, net_currency = amount("netliquidation", "equitywithloanvalue")
    buying, _ = amount("buyingpower", "availablefunds")
    return AccountSummary(
        account_id=account_id,
        is_paper=is_paper_account(account_id),
        currency=currency or net_currency or "AUD",
        cash=cash,
        net_liquidation=net,
        buying_power=buying,
    )


def is_paper_account(account_id: str) -> bool:
    """IBKR paper accounts start with ``D`` (``DU1234567``); live ones with ``U``/``F``/..."""
    return account_id.strip().upper().startswith("D")
