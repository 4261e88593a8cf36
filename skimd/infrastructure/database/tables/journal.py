"""The trade journal: executions, round trips, fees, balances, plans, reports with images,
mistakes, watchlists, user settings and broker/bank configuration."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from ._fields import money, utc


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(unique=True)  # the broker's account id
    name: str | None = None
    broker: str = "ibkr"
    currency: str = "AUD"
    created_at: dt.datetime = utc()
    # revision 0005: what the trader knows about the account
    account_type: str | None = None  # e.g. individual, margin, cash, smsf, super
    institution: str | None = None
    tax_advantaged: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    notes: str | None = None


class RoundTrip(SQLModel, table=True):
    """An entry and its exits on one ticker, with the money it made or lost."""

    __tablename__ = "round_trips"

    id: int | None = Field(default=None, primary_key=True)
    account: str | None = None
    ticker: str = Field(index=True)
    conid: int | None = None
    status: str = Field(default="open", index=True)  # open | closed
    qty: Decimal = money()
    entry_avg: Decimal = money()
    exit_avg: Decimal | None = money(default=None)
    gross_pnl: Decimal | None = money(default=None)
    fees: Decimal = money(default=Decimal(0))
    net_pnl: Decimal | None = money(default=None)
    opened_at: dt.datetime = utc(index=True)
    closed_at: dt.datetime | None = utc(default=None)


class Trade(SQLModel, table=True):
    """One execution from the broker; ``exec_id`` is its natural key."""

    __tablename__ = "trades"

    id: int | None = Field(default=None, primary_key=True)
    exec_id: str = Field(unique=True)
    account: str | None = None
    ticker: str = Field(index=True)
    conid: int | None = None
    side: str  # BUY | SELL
    qty: Decimal = money()
    price: Decimal = money()
    commission: Decimal = money(default=Decimal(0))
    currency: str = "AUD"
    executed_at: dt.datetime = utc(index=True)
    order_ref: str | None = None
    client_order_id: str | None = Field(default=None, index=True)
    round_trip_id: int | None = Field(
        default=None, foreign_key="round_trips.id", ondelete="SET NULL"
    )


class TradeReport(SQLModel, table=True):
    __tablename__ = "trade_reports"

    id: int | None = Field(default=None, primary_key=True)
    report_date: dt.date = Field(index=True)
    account: str | None = None
    title: str
    body: str = ""  # markdown
    round_trip_id: int | None = Field(  # revision 0003: one report per closed round trip
        default=None, foreign_key="round_trips.id", ondelete="SET NULL", index=True
    )
    created_at: dt.datetime = utc()
    # revision 0005: the trader's review (skimd.domain.reviews); a report with an empty
    # body holds only a review until the report writer fills it in
    setup_quality: int | None = None  # 1-5
    execution_quality: int | None = None  # 1-5
    followed_plan: bool | None = None
    emotional_state: str | None = None
    lessons_learned: str | None = None
    tags: str = Field(default="[]", sa_column_kwargs={"server_default": "[]"})  # JSON list


class Image(SQLModel, table=True):
    """A chart or screenshot, with a small WebP thumbnail made at save time.

    Its owner is ``(owner_type, owner_id)``: ``trade`` (trades.id), ``report``
    (trade_reports.id) or ``plan`` (trade_plans.id) -- revision 0005, replacing the
    trade_id/report_id columns; no foreign key can point at three tables, so the
    repository checks the owner exists when it saves."""

    __tablename__ = "images"
    __table_args__ = (Index("ix_images_owner", "owner_type", "owner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_type: str
    owner_id: int
    caption: str | None = None
    file_size: int  # bytes of the image itself (not the thumbnail)
    kind: str = "chart"  # chart (drawn by skimd) | screenshot (attached by the trader)
    mime: str
    data: bytes = Field(sa_column=Column("bytes", LargeBinary, nullable=False))
    width: int
    height: int
    thumbnail: bytes = Field(sa_column=Column("thumbnail", LargeBinary, nullable=False))
    thumb_width: int
    thumb_height: int
    created_at: dt.datetime = utc()


class TradePlan(SQLModel, table=True):
    __tablename__ = "trade_plans"

    id: int | None = Field(default=None, primary_key=True)
    ticker: str = Field(index=True)
    entry: Decimal = money()
    stop: Decimal = money()
    target: Decimal | None = money(default=None)
    qty: int | None = None
    status: str = Field(default="draft", index=True)  # draft | active | executed | cancelled
    notes: str | None = None
    candidate_id: int | None = Field(default=None, foreign_key="candidates.id", ondelete="SET NULL")
    trade_id: int | None = Field(default=None, foreign_key="trades.id", ondelete="SET NULL")
    created_at: dt.datetime = utc()
    updated_at: dt.datetime = utc()
    # revision 0005: the trader's plan in words
    direction: str = Field(default="long", sa_column_kwargs={"server_default": "long"})
    conviction: str | None = None  # low | medium | high
    strategy_name: str | None = None
    strategy_description: str | None = None
    entry_conditions: str | None = None
    exit_conditions: str | None = None
    timeframe: str | None = None  # e.g. intraday, swing, position
    account: str | None = None


class Watchlist(SQLModel, table=True):
    __tablename__ = "watchlists"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    created_at: dt.datetime = utc()
    description: str | None = None  # revision 0005
    updated_at: dt.datetime = utc()  # revision 0005 (earlier rows: created_at)


class WatchlistItem(SQLModel, table=True):
    __tablename__ = "watchlist_items"
    __table_args__ = (UniqueConstraint("watchlist_id", "ticker"),)

    id: int | None = Field(default=None, primary_key=True)
    watchlist_id: int = Field(foreign_key="watchlists.id", ondelete="CASCADE")
    ticker: str
    note: str | None = None
    added_at: dt.datetime = utc()


class BalanceSnapshot(SQLModel, table=True):
    __tablename__ = "balance_snapshots"
    __table_args__ = (UniqueConstraint("account", "date"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str
    date: dt.date
    cash: Decimal = money()
    equity: Decimal = money()
    currency: str = "AUD"
    taken_at: dt.datetime = utc()


class UserSetting(SQLModel, table=True):
    """A setting the trader chose; wins over :class:`AppDefault`. Values are JSON text."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True)
    value: str
    updated_at: dt.datetime = utc()
    # revision 0005: how ``value`` reads back: str | int | bool | decimal | float | json
    value_type: str = Field(default="json", sa_column_kwargs={"server_default": "json"})


class AppDefault(SQLModel, table=True):
    """A default shipped or seeded by the app (:data:`skimd.domain.preferences.APP_DEFAULTS`,
    on ``db init``); used when the trader set nothing. Values are JSON text."""

    __tablename__ = "app_defaults"

    key: str = Field(primary_key=True)
    value: str
    # revision 0006: how ``value`` reads back, as ``settings.value_type``
    value_type: str = Field(default="json", sa_column_kwargs={"server_default": "json"})


class MarketProviderSetting(SQLModel, table=True):
    """A market-data provider; its API key is Fernet ciphertext, never plaintext."""

    __tablename__ = "market_provider_settings"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(unique=True)
    api_key_encrypted: str | None = None
    enabled: bool = True
    updated_at: dt.datetime = utc()
    # revision 0005: how to call it, and how its last connection test went
    rate_limit_per_minute: int | None = None
    timeout_s: Decimal | None = money(default=None)
    last_tested_at: dt.datetime | None = utc(default=None)
    last_test_ok: bool | None = None
    last_test_message: str | None = None


class OrderGuard(SQLModel, table=True):
    """The order-placement kill switch (a single row, id 1).

    The caps (orders per day, daily loss) live in the config only, where ``skimd config
    check`` validates them and the deploy reviews them; revision 0005 dropped the cap
    columns this table had, which nothing wrote or read (a second, silent source of truth).
    """

    __tablename__ = "mcp_guard"

    id: int = Field(default=1, primary_key=True)
    locked: bool = False
    reason: str | None = None
    changed_at: dt.datetime | None = utc(default=None)


class ExcursionMetric(SQLModel, table=True):
    """Maximum favourable / adverse excursion and best-sell-opportunity of one trade."""

    __tablename__ = "excursion_metrics"

    id: int | None = Field(default=None, primary_key=True)
    trade_id: int = Field(foreign_key="trades.id", unique=True, ondelete="CASCADE")
    mfe: Decimal = money()
    mae: Decimal = money()
    bso: Decimal | None = money(default=None)
    computed_at: dt.datetime = utc()
    # revision 0005: the same per share as a percentage of the entry average, and where
    # the price path came from (None on rows computed before 0005)
    mfe_pct: Decimal | None = money(default=None)
    mae_pct: Decimal | None = money(default=None)
    bso_pct: Decimal | None = money(default=None)
    data_source: str | None = None  # e.g. broker_1min_bars


class IdentifierCache(SQLModel, table=True):
    """Symbol → broker contract id, valid until ``expires_at``."""

    __tablename__ = "identifier_cache"

    symbol: str = Field(primary_key=True)
    conid: int
    expires_at: dt.datetime = utc()
    updated_at: dt.datetime = utc()


class LedgerEntry(SQLModel, table=True):
    """A fee or cash movement by type (commission, exchange fee, GST, interest, ...)."""

    __tablename__ = "transaction_ledger"

    id: int | None = Field(default=None, primary_key=True)
    account: str | None = None
    trade_id: int | None = Field(default=None, foreign_key="trades.id", ondelete="SET NULL")
    kind: str = Field(index=True)
    amount: Decimal = money()
    currency: str = "AUD"
    occurred_at: dt.datetime = utc(index=True)
    description: str | None = None


class OptionsStrategy(SQLModel, table=True):
    __tablename__ = "options_strategies"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    underlying: str
    legs: str = "[]"  # JSON text
    status: str = "open"
    opened_at: dt.datetime = utc()
    closed_at: dt.datetime | None = utc(default=None)
    notes: str | None = None
    # revision 0005: the shape and what it can make or lose at expiry
    # (skimd.domain.option_payoff; None where unlimited or, across expiries, unknown)
    strategy_type: str | None = None
    net_debit_credit: Decimal | None = money(default=None)  # < 0 debit paid, > 0 credit
    max_profit: Decimal | None = money(default=None)
    max_loss: Decimal | None = money(default=None)  # an amount >= 0
    breakevens: str = Field(default="[]", sa_column_kwargs={"server_default": "[]"})  # JSON


class MistakeEntry(SQLModel, table=True):
    __tablename__ = "mistake_entries"

    id: int | None = Field(default=None, primary_key=True)
    trade_id: int | None = Field(default=None, foreign_key="trades.id", ondelete="SET NULL")
    round_trip_id: int | None = Field(
        default=None, foreign_key="round_trips.id", ondelete="SET NULL"
    )
    category: str
    note: str | None = None
    cost: Decimal | None = money(default=None)  # what the mistake cost (revision 0003)
    created_at: dt.datetime = utc()


class BrokerConfig(SQLModel, table=True):
    __tablename__ = "broker_configs"

    id: int | None = Field(default=None, primary_key=True)
    broker: str = Field(unique=True)
    settlement_days: int = 2
    commission_schedule: str = "{}"  # JSON text
    trading_hours: str = "{}"  # JSON text
    updated_at: dt.datetime = utc()


class BankImportConfig(SQLModel, table=True):
    __tablename__ = "bank_import_configs"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    date_column: str
    amount_column: str
    description_column: str
    date_format: str = "%d/%m/%Y"
    delimiter: str = ","
    # revision 0003: statements with debit/credit columns, preambles, decimal commas
    debit_column: str | None = None
    credit_column: str | None = None
    reference_column: str | None = None
    balance_column: str | None = None
    skip_rows: int = 0
    has_header: bool = True
    amount_sign: str = "credit_positive"
    decimal_separator: str = "."
    thousands_separator: str = ","
    encoding: str = "utf-8-sig"
    currency: str | None = None
    created_at: dt.datetime = utc()


class BankTransaction(SQLModel, table=True):
    """A bank statement line; ``hash`` (of account, date, amount, description) dedups
    re-imports of overlapping statements."""

    __tablename__ = "bank_transactions"

    id: int | None = Field(default=None, primary_key=True)
    hash: str = Field(unique=True)
    account: str
    posted_on: dt.date = Field(index=True)
    amount: Decimal = money()
    currency: str = "AUD"
    description: str = ""
    reference: str | None = None  # revision 0003
    balance: Decimal | None = money(default=None)  # revision 0003
    imported_at: dt.datetime = utc()
    import_config_id: int | None = Field(
        default=None, foreign_key="bank_import_configs.id", ondelete="SET NULL"
    )
    # revision 0005
    post_date: dt.date | None = None  # the date the bank posted the line
    category: str | None = None  # the statement's type (OFX TRNTYPE) or the trader's own
    source: str | None = None  # csv | ofx (rows before 0005: from import_config_id)
    import_batch_id: str | None = Field(default=None, index=True)  # one per import
