"""Every table, on one metadata (``SQLModel.metadata``), which the migrations track."""

from __future__ import annotations

from sqlmodel import SQLModel

from .control import ControlAction, FlattenRequest, TickerPause
from .journal import (
    Account,
    AppDefault,
    BalanceSnapshot,
    BankImportConfig,
    BankTransaction,
    BrokerConfig,
    ExcursionMetric,
    IdentifierCache,
    Image,
    LedgerEntry,
    MarketProviderSetting,
    MistakeEntry,
    OptionsStrategy,
    OrderGuard,
    RoundTrip,
    Trade,
    TradePlan,
    TradeReport,
    UserSetting,
    Watchlist,
    WatchlistItem,
)
from .recorded import RecordedAnnouncement, RecordedBar, RecordedQuote
from .trading import (
    AlertOutbox,
    Candidate,
    CandidateStatus,
    HistoricalPrice,
    JobRun,
    OrderIntent,
    OrderStatus,
    Position,
)

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "AlertOutbox",
    "AppDefault",
    "BalanceSnapshot",
    "BankImportConfig",
    "BankTransaction",
    "BrokerConfig",
    "Candidate",
    "CandidateStatus",
    "ControlAction",
    "ExcursionMetric",
    "FlattenRequest",
    "HistoricalPrice",
    "IdentifierCache",
    "Image",
    "JobRun",
    "LedgerEntry",
    "MarketProviderSetting",
    "MistakeEntry",
    "OptionsStrategy",
    "OrderGuard",
    "OrderIntent",
    "OrderStatus",
    "Position",
    "RecordedAnnouncement",
    "RecordedBar",
    "RecordedQuote",
    "RoundTrip",
    "TickerPause",
    "Trade",
    "TradePlan",
    "TradeReport",
    "UserSetting",
    "Watchlist",
    "WatchlistItem",
    "metadata",
]
