"""Tables of the operator's control channel (revision 0004): the journal of control
actions, the tickers paused by an operator, the positions an operator asked to flatten."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from ._fields import utc


class ControlAction(SQLModel, table=True):
    """One control action: who (peer uid, user name), what, when; never updated."""

    __tablename__ = "control_actions"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = utc(index=True)
    uid: int
    name: str
    action: str = Field(index=True)
    detail: str


class TickerPause(SQLModel, table=True):
    """A ticker an operator paused (the row is deleted on resume)."""

    __tablename__ = "ticker_pauses"

    ticker: str = Field(primary_key=True)
    at: dt.datetime = utc()
    uid: int
    name: str
    reason: str


class FlattenRequest(SQLModel, table=True):
    """A position an operator asked to flatten (one per position; gone with it)."""

    __tablename__ = "flatten_requests"

    position_id: int = Field(primary_key=True, foreign_key="positions.id", ondelete="CASCADE")
    ticker: str
    at: dt.datetime = utc()
    uid: int
    name: str
    reason: str
