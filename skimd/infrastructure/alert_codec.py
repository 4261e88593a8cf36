"""Alerts as JSON: the form the outbox table stores and the JSON-lines file replays.

::

    payload = to_payload(alert)           # {"kind": ..., "v": 1, "data": {...}}
    assert alert_from_payload(payload) == alert

Decimals travel as strings (never floats), datetimes and dates as ISO-8601 (with offset),
enums as their values, nested dataclasses as objects, tuples as lists. The encoder and the
decoder follow each alert class's type hints, so a new alert needs no codec change.

Compatibility: rows written by any earlier version stay in the outbox until delivered, so
a payload once written must keep decoding. Adding a field with a default is safe (an old
payload lacks it and gets the default); renaming or retyping one is not. ``v`` is
:data:`PAYLOAD_VERSION` at writing time. A kind this version does not know, or a payload
that does not fit its class, raises :class:`UnknownAlertKind` rather than being dropped.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from skimd.domain.alerts import ALERT_TYPES, Alert

PAYLOAD_VERSION = 1


class UnknownAlertKind(ValueError):
    """A payload names a kind this version does not know (or is malformed)."""


def to_payload(alert: Alert) -> dict[str, Any]:
    """``{"kind", "v", "data"}`` with JSON-safe values only."""
    return {"kind": alert.kind, "v": PAYLOAD_VERSION, "data": _encode_dataclass(alert)}


def alert_from_payload(payload: Mapping[str, Any]) -> Alert:
    """Rebuild an alert from :func:`to_payload` output (of this or an earlier version)."""
    try:
        kind = payload["kind"]
        data = payload["data"]
    except (KeyError, TypeError) as exc:
        raise UnknownAlertKind("alert payload has no kind/data") from exc
    cls = ALERT_TYPES.get(kind)
    if cls is None:
        raise UnknownAlertKind(f"unknown alert kind {kind!r}")
    try:
        return _decode_dataclass(cls, data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UnknownAlertKind(f"alert payload of kind {kind!r} is malformed: {exc}") from exc


def alert_from_json(text: str) -> Alert:
    """Rebuild an alert from the JSON text of its payload (an outbox row's ``payload``)."""
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise UnknownAlertKind("alert payload is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise UnknownAlertKind("alert payload is not a JSON object")
    return alert_from_payload(payload)


# -- encoding ----------------------------------------------------------------------------------


def _encode_dataclass(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _encode(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str) and not isinstance(value, Enum):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    raise TypeError(f"cannot encode {type(value).__name__} in an alert payload")


# -- decoding ----------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}

T = TypeVar("T")


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _decode_dataclass(cls: type[T], data: Mapping[str, Any]) -> T:
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} data must be an object")
    hints = _hints(cls)
    kwargs = {
        f.name: _decode(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**kwargs)


def _decode(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        inner = get_args(tp)[0]
        return tuple(_decode(inner, v) for v in value)
    decoder = _DECODERS.get(tp)
    if decoder is not None:
        return decoder(value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value)
    raise TypeError(f"cannot decode {tp!r}")


def _strict(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str | int):
        raise TypeError("a Decimal must travel as a string")
    return Decimal(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


_DECODERS: dict[Any, Callable[[Any], Any]] = {
    str: _strict(str),
    int: _strict(int),
    bool: _strict(bool),
    float: _float,
    Decimal: _decimal,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
}
