"""Repositories: one per aggregate. They use the unit of work's session and never commit."""

from __future__ import annotations

from ._base import Repository
from .images import ImageRepository, process_image
from .journal import (
    AccountRepository,
    BalanceSnapshotRepository,
    BankImportConfigRepository,
    BankTransactionRepository,
    BrokerConfigRepository,
    ExcursionRepository,
    LedgerRepository,
    MistakeRepository,
    OptionsStrategyRepository,
    RoundTripRepository,
    TradePlanRepository,
    TradeReportRepository,
    TradeRepository,
    WatchlistRepository,
)
from .operations import (
    AlertOutboxRepository,
    GuardRepository,
    HistoricalPriceRepository,
    JobRunRepository,
)
from .preferences import (
    IdentifierCacheRepository,
    ProviderSettingsRepository,
    SettingsRepository,
)
from .trading import CandidateRepository, OrderIntentRepository, PositionRepository

__all__ = [
    "AccountRepository",
    "AlertOutboxRepository",
    "BalanceSnapshotRepository",
    "BankImportConfigRepository",
    "BankTransactionRepository",
    "BrokerConfigRepository",
    "CandidateRepository",
    "ExcursionRepository",
    "GuardRepository",
    "HistoricalPriceRepository",
    "IdentifierCacheRepository",
    "ImageRepository",
    "JobRunRepository",
    "LedgerRepository",
    "MistakeRepository",
    "OptionsStrategyRepository",
    "OrderIntentRepository",
    "PositionRepository",
    "ProviderSettingsRepository",
    "Repository",
    "RoundTripRepository",
    "SettingsRepository",
    "TradePlanRepository",
    "TradeReportRepository",
    "TradeRepository",
    "WatchlistRepository",
    "process_image",
]
