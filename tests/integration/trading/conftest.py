"""Fixtures of the trading tests (see desk.py)."""

from tests.integration.trading.desk import data_dir, desk, trading_template

__all__ = ["data_dir", "desk", "trading_template"]
