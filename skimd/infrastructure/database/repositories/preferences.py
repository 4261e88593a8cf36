"""User settings with fallbacks, provider API keys (Fernet-encrypted) and the identifier
cache."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlmodel import Session, col

from skimd.domain.preferences import Preference, T
from skimd.errors import DatabaseError

from ..tables import AppDefault, IdentifierCache, MarketProviderSetting, UserSetting
from ._base import Repository

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

    from ..crypto import LazyFernet


def value_type_of(value: Any) -> str:
    """The ``value_type`` of a Python value (``settings``: revision 0005; ``app_defaults``:
    0006)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "json"


def encode_setting(value: Any) -> tuple[str, str]:
    """``(JSON text, value type)``; a Decimal is kept exact as its JSON string."""
    kind = value_type_of(value)
    return json.dumps(str(value) if kind == "decimal" else value), kind


def decode_setting(text: str, value_type: str) -> Any:
    """The value of a stored setting, of the type ``value_type`` names."""
    value = json.loads(text)
    return Decimal(value) if value_type == "decimal" else value


class SettingsRepository(Repository[UserSetting]):
    """Values are stored as JSON with their type (``value_type``: a Decimal comes back a
    Decimal, exactly). Resolution order: the trader's setting, then the app default, then
    the default the calling code passes."""

    model = UserSetting

    def set_user(self, key: str, value: Any, now: dt.datetime) -> None:
        row = self._session.get(UserSetting, key)
        encoded, kind = encode_setting(value)
        if row is None:
            row = UserSetting(key=key, value=encoded, value_type=kind, updated_at=now)
        else:
            row.value, row.value_type, row.updated_at = encoded, kind, now
        self.add(row)

    def clear_user(self, key: str) -> None:
        self._session.execute(delete(UserSetting).where(col(UserSetting.key) == key))

    def set_default(self, key: str, value: Any) -> None:
        row = self._session.get(AppDefault, key)
        encoded, kind = encode_setting(value)
        if row is None:
            row = AppDefault(key=key, value=encoded, value_type=kind)
        else:
            row.value, row.value_type = encoded, kind
        self._session.add(row)
        self._session.flush()

    def resolve(self, key: str, code_default: Any = None) -> Any:
        user = self._session.get(UserSetting, key)
        if user is not None:
            return decode_setting(user.value, user.value_type)
        default = self._session.get(AppDefault, key)
        if default is not None:
            return decode_setting(default.value, default.value_type)
        return code_default

    def preference(self, wanted: Preference[T]) -> T:
        """``wanted``'s value: the trader's setting, else the app default, else the code's
        default, skipping a stored value of the wrong type or out of range."""
        user = self._session.get(UserSetting, wanted.key)
        default = self._session.get(AppDefault, wanted.key)
        return wanted.pick(
            None if user is None else _decoded(user.value, user.value_type),
            None if default is None else _decoded(default.value, default.value_type),
        )


def _decoded(text: str, value_type: str) -> Any:
    """The stored value, or None when its text is not what its type says (hand-edited)."""
    try:
        return decode_setting(text, value_type)
    except (ValueError, ArithmeticError):
        return None


class ProviderSettingsRepository(Repository[MarketProviderSetting]):
    """Market-data providers. API keys are stored only as Fernet ciphertext whose key is
    derived from the database key; without that key (no passphrase) they cannot be stored."""

    model = MarketProviderSetting

    def __init__(self, session: Session, fernet: LazyFernet | None) -> None:
        super().__init__(session)
        self._fernet = fernet

    def _require_fernet(self) -> Fernet:
        if self._fernet is None:
            raise DatabaseError("provider API keys need a database passphrase; none is set")
        return self._fernet.get()

    def by_provider(self, provider: str) -> MarketProviderSetting | None:
        stmt = select(MarketProviderSetting).where(col(MarketProviderSetting.provider) == provider)
        return self._session.scalars(stmt).first()

    def set_api_key(self, provider: str, api_key: SecretStr, now: dt.datetime) -> None:
        token = self._require_fernet().encrypt(api_key.get_secret_value().encode("utf-8"))
        row = self.by_provider(provider) or MarketProviderSetting(provider=provider, updated_at=now)
        row.api_key_encrypted = token.decode("ascii")
        row.updated_at = now
        self.add(row)

    def set_limits(
        self,
        provider: str,
        now: dt.datetime,
        *,
        rate_limit_per_minute: int | None,
        timeout_s: Decimal | None,
    ) -> MarketProviderSetting:
        """How fast and how long to call ``provider`` (None: no limit / the default)."""
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise ValueError(f"rate limit must be at least 1 a minute, got {rate_limit_per_minute}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout must be above 0 s, got {timeout_s}")
        row = self.by_provider(provider) or MarketProviderSetting(provider=provider, updated_at=now)
        row.rate_limit_per_minute, row.timeout_s = rate_limit_per_minute, timeout_s
        row.updated_at = now
        return self.add(row)

    def record_test(
        self, provider: str, at: dt.datetime, *, ok: bool, message: str | None = None
    ) -> MarketProviderSetting:
        """Keep the outcome of a connection test of ``provider`` (never a secret in
        ``message``: callers pass the one-line error of :mod:`skimd.errors`)."""
        row = self.by_provider(provider) or MarketProviderSetting(provider=provider, updated_at=at)
        row.last_tested_at, row.last_test_ok, row.last_test_message = at, ok, message
        return self.add(row)

    def get_api_key(self, provider: str) -> SecretStr | None:
        row = self.by_provider(provider)
        if row is None or row.api_key_encrypted is None:
            return None
        from cryptography.fernet import InvalidToken

        try:
            plain = self._require_fernet().decrypt(row.api_key_encrypted.encode("ascii"))
        except InvalidToken:
            raise DatabaseError(
                f"the stored API key for provider {provider!r} cannot be decrypted with this "
                "database key; enter it again"
            ) from None
        return SecretStr(plain.decode("utf-8"))


class IdentifierCacheRepository(Repository[IdentifierCache]):
    """Symbol → broker conid, trusted only until ``expires_at``."""

    model = IdentifierCache

    def get_conid(self, symbol: str, now: dt.datetime) -> int | None:
        row = self._session.get(IdentifierCache, symbol)
        if row is None or row.expires_at <= now:
            return None
        return row.conid

    def put(self, symbol: str, conid: int, expires_at: dt.datetime, now: dt.datetime) -> None:
        row = self._session.get(IdentifierCache, symbol)
        if row is None:
            row = IdentifierCache(symbol=symbol, conid=conid, expires_at=expires_at, updated_at=now)
        else:
            row.conid, row.expires_at, row.updated_at = conid, expires_at, now
        self.add(row)

    def purge_expired(self, now: dt.datetime) -> int:
        stmt = delete(IdentifierCache).where(col(IdentifierCache.expires_at) <= now)
        result = self._session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)
