"""Field helpers so every money and time column uses the exact types."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field

from ..types import DecimalText, UTCDateTime


def money(*, default: Any = ..., index: bool = False) -> Any:
    """A Decimal stored exactly as TEXT. ``default=None`` makes it nullable."""
    return Field(default=default, sa_type=DecimalText, index=index)


def utc(*, default: Any = ..., index: bool = False) -> Any:
    """An aware-UTC datetime stored as fixed-width ISO text. ``default=None``: nullable."""
    return Field(default=default, sa_type=UTCDateTime, index=index)
