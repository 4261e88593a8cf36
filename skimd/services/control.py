"""The daemon's side of the control channel: each command an operator may send, carried
out by the running daemon's own parts (its kill switch, its supervisor, its operator
actions), so the operator needs no secret of the daemon's.

Commands (``args`` in brackets):

- ``status``: the daemon's status report (what ``skimd status`` prints)
- ``guard.status`` / ``guard.lock`` [reason] / ``guard.unlock``: the kill switch
- ``jobs``: the job plan with each job's last result and next run
- ``run-job`` [name]: run one trading job now through the supervisor; the result
- ``tail`` [kind]: a stream of alerts and job events (see :mod:`skimd.services.control_events`)
- ``flatten`` [tickers (a list, or null for all), reason], ``pause`` [ticker, reason],
  ``resume`` [ticker]: trading operations, carried out by the operator actions
- ``tape`` [ticker]: the prices the daemon has seen for ``ticker`` today (its own price
  tape, kept in memory for the alert charts: empty after a restart), for ``skimd web``'s
  opening-range charts

Every command that changes something is journaled and alerted with who asked (the peer's
uid and name): flatten/pause/resume by the operator actions themselves, the others
through :meth:`DaemonControl.record`, the one place that calls ``record``. The change is
made first and never undone by a failed journal entry (a kill switch that refused to lock
because journaling failed would be worse); such a failure is logged and the reply says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from skimd.domain.market import PricePoint, VolumePoint
from skimd.domain.trading import GuardState
from skimd.errors import InvalidInputError
from skimd.services.control_events import EventBus
from skimd.services.guard import KillSwitch
from skimd.services.ports.control import Peer
from skimd.services.supervisor import Supervisor
from skimd.services.trading.operator import Operator, OperatorActions

log = structlog.get_logger("skimd.control")

MAX_REASON_CHARS = 200
MAX_TICKERS = 50
DEFAULT_LOCK_REASON = "manual lock (skimd guard lock)"
DEFAULT_FLATTEN_REASON = "manual flatten (skimd flatten)"
DEFAULT_PAUSE_REASON = "manual pause (skimd pause)"

# command -> the argument names it accepts
COMMANDS: dict[str, frozenset[str]] = {
    "status": frozenset(),
    "guard.status": frozenset(),
    "guard.lock": frozenset({"reason"}),
    "guard.unlock": frozenset(),
    "jobs": frozenset(),
    "run-job": frozenset({"name"}),
    "tail": frozenset({"kind"}),
    "flatten": frozenset({"tickers", "reason"}),
    "pause": frozenset({"ticker", "reason"}),
    "resume": frozenset({"ticker"}),
    "tape": frozenset({"ticker"}),
}

TapeReader = Callable[[str], tuple[Sequence[PricePoint], Sequence[VolumePoint]]]
"""Today's price path and volume bars of a ticker, from the daemon's price tape."""


def guard_json(state: GuardState, changed: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "locked": state.locked,
        "reason": state.reason,
        "changed_at": None if state.changed_at is None else state.changed_at.isoformat(),
    }
    if changed is not None:
        out["changed"] = changed
    return out


class DaemonControl:
    """The :class:`~skimd.services.ports.control.ControlHandler` of a running daemon.

    ``operator`` returns the daemon's operator actions (``skimd.services.trading.operator``);
    it is called only by the commands that need it. ``tape`` reads the daemon's price tape
    (without one, ``tape`` answers an empty path)."""

    def __init__(
        self,
        *,
        status: Callable[[], dict[str, Any]],
        kill_switch: KillSwitch,
        supervisor: Supervisor,
        events: EventBus,
        operator: Callable[[], OperatorActions],
        tape: TapeReader | None = None,
    ) -> None:
        self._tape = tape
        self._status = status
        self._kill_switch = kill_switch
        self._supervisor = supervisor
        self._events = events
        self._operator = operator

    async def handle(self, peer: Peer, cmd: str, args: Mapping[str, Any]) -> Any:
        accepted = COMMANDS.get(cmd)
        if accepted is None:
            raise InvalidInputError(f"unknown command {cmd!r}")
        extra = sorted(set(args) - accepted)
        if extra:
            raise InvalidInputError(f"{cmd}: unknown argument(s) {', '.join(extra)}")
        if cmd == "status":
            return self._status()
        if cmd == "guard.status":
            return guard_json(self._kill_switch.state())
        if cmd == "guard.lock":
            return self._lock(peer, _text(args, "reason", DEFAULT_LOCK_REASON))
        if cmd == "guard.unlock":
            return self._unlock(peer)
        if cmd == "jobs":
            return self._supervisor.snapshot()
        if cmd == "run-job":
            return await self._run_job(peer, _required(args, "name"))
        if cmd == "tail":
            kind = args.get("kind")
            if kind is not None and not isinstance(kind, str):
                raise InvalidInputError("tail: kind must be text")
            return self._events.subscribe(kind or None)
        if cmd == "tape":
            return self._tape_json(_required(args, "ticker").upper())
        return await self._trading(peer, cmd, args)

    # -- the commands ------------------------------------------------------------------------

    def _tape_json(self, ticker: str) -> dict[str, Any]:
        """``{"ticker", "path": [[ISO time, price text], ...], "volumes": [[ISO time,
        shares], ...]}``, oldest first."""
        path, volumes = self._tape(ticker) if self._tape is not None else ((), ())
        return {
            "ticker": ticker,
            "path": [[p.at.isoformat(), str(p.price)] for p in path],
            "volumes": [[v.at.isoformat(), v.volume] for v in volumes],
        }

    def _lock(self, peer: Peer, reason: str) -> dict[str, Any]:
        state, changed = self._kill_switch.lock(reason, by=f"{who_text(peer)} (control socket)")
        out = guard_json(state, changed)
        if changed:
            _note(out, self.record(peer, "guard lock", reason, alert=False))
        return out

    def _unlock(self, peer: Peer) -> dict[str, Any]:
        state, changed = self._kill_switch.unlock()
        out = guard_json(state, changed)
        if changed:
            _note(out, self.record(
                peer, "guard unlock", "new entries allowed again", alert=False
            ))
        return out

    async def _run_job(self, peer: Peer, name: str) -> dict[str, Any]:
        shown = {s.id for s in self._supervisor.jobs if not s.internal}
        if name not in shown:
            raise InvalidInputError(
                f"run-job: no job named {name!r} (jobs: {', '.join(sorted(shown))})"
            )
        note = self.record(peer, "run-job", name)  # before: the run may take a while
        result = await self._supervisor.run_now(name)
        out: dict[str, Any] = {
            "job": name,
            "outcome": result.outcome,
            "message": result.message,
            "started_at": None if result.started_at is None else result.started_at.isoformat(),
            "finished_at": None if result.finished_at is None else result.finished_at.isoformat(),
        }
        _note(out, note)
        return out

    async def _trading(self, peer: Peer, cmd: str, args: Mapping[str, Any]) -> Any:
        """flatten / pause / resume, by the operator actions (which journal and alert)."""
        who = Operator(peer.uid, peer.name)
        actions = self._operator()
        if cmd == "flatten":
            tickers = _tickers(args.get("tickers"))
            reason = _text(args, "reason", DEFAULT_FLATTEN_REASON)
            lines: list[str] = await actions.flatten(who, tickers, reason)
            return {"lines": lines}
        ticker = _ticker(_required(args, "ticker"))
        if cmd == "pause":
            reason = _text(args, "reason", DEFAULT_PAUSE_REASON)
            return {"lines": [actions.pause(who, ticker, reason)]}
        return {"lines": [actions.resume(who, ticker)]}

    # -- the journal -----------------------------------------------------------------------------

    def record(
        self, peer: Peer, action: str, detail: str, *, alert: bool = True
    ) -> str | None:
        """Journal and alert a control action that changed something (through the operator
        actions); None when done, else why not (the change stands; see the module doc).
        ``alert=False``: the action alerted itself (the kill switch names who locked it)."""
        try:
            self._operator().record(Operator(peer.uid, peer.name), action, detail, alert=alert)
        except Exception as exc:  # the change is made; its record must not undo or hide it
            log.error("control action not journaled", action=action, uid=peer.uid, error=str(exc))
            return f"not journaled: {type(exc).__name__}: {exc}"
        return None


def who_text(peer: Peer) -> str:
    return f"{peer.name} (uid {peer.uid})"


def _note(out: dict[str, Any], note: str | None) -> None:
    if note is not None:
        out["note"] = note


def _required(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"missing argument {key!r}")
    return value.strip()


def _text(args: Mapping[str, Any], key: str, default: str) -> str:
    value = args.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInputError(f"{key}: must be text")
    text = " ".join(value.split())
    if not text:
        raise InvalidInputError(f"{key}: must not be blank")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInputError(f"{key}: at most {MAX_REASON_CHARS} characters")
    return text


def _ticker(value: str) -> str:
    ticker = value.strip().upper()
    if not ticker.isalnum() or not 1 <= len(ticker) <= 6:
        raise InvalidInputError(f"{value!r} is not an ASX code")
    return ticker


def _tickers(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > MAX_TICKERS:
        raise InvalidInputError(f"tickers: a list of 1 to {MAX_TICKERS} ASX codes, or null")
    return [_ticker(v) if isinstance(v, str) else _ticker(str(v)) for v in value]


__all__ = ["COMMANDS", "DaemonControl", "guard_json", "who_text"]
