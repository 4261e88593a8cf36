"""The shared shape of a repository: it works inside the caller's session and never
commits, rolls back or opens a session of its own (the unit of work does that)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import select
from sqlmodel import Session, SQLModel

T = TypeVar("T", bound=SQLModel)


class Repository(Generic[T]):
    model: ClassVar[type[Any]]

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, obj: T) -> T:
        """Insert or update ``obj``; flushed so ids are set and constraints checked now."""
        self._session.add(obj)
        self._session.flush()
        return obj

    def get(self, ident: Any) -> T | None:
        found: T | None = self._session.get(self.model, ident)
        return found

    def list_all(self, limit: int | None = None) -> Sequence[T]:
        stmt = select(self.model).limit(limit)
        return list(self._session.scalars(stmt).all())

    def delete(self, obj: T) -> None:
        self._session.delete(obj)
        self._session.flush()
