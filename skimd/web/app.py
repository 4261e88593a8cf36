"""The Starlette application: routes, the login, and the rules every request passes.

Every page but ``/login`` needs a live session (else a redirect to the login page); every
POST needs the session's CSRF token (else 403, nothing done); in read-only mode the desk's
actions and the review form are neither shown nor accepted (403). A review with a bad box
is shown again with the box named (400) and nothing is written. Templates are
autoescaped and are given only what they show: no setting, path to a secret or secret
value reaches them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skimd.clock import Clock
from skimd.domain.reviews import Review, ReviewFieldError
from skimd.domain.stats import GroupBy
from skimd.errors import (
    DaemonReplyError,
    DaemonUnavailableError,
    InvalidInputError,
    SkimdError,
)
from skimd.services.journal.reviews import UnknownRoundTripError
from skimd.services.journal.stats import stats_json
from skimd.web.alert_stream import alert_stream_response
from skimd.web.desk import ACTIONS, Desk, TripFilter
from skimd.web.query import date_param, group_param, page_param
from skimd.web.record_pages import record_routes
from skimd.web.review_form import (
    LABELS,
    form_values,
    review_from_form,
    submitted_values,
)
from skimd.web.security import (
    CSRF_FIELD,
    SECURITY_HEADERS,
    LoginThrottle,
    Sessions,
    csrf_ok,
    csrf_token,
)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "skimd_session"
TICKER = re.compile(r"[A-Za-z0-9.]{1,12}")
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class WebOptions:
    """How the app guards itself. ``secure_cookie`` when served over TLS."""

    session_secret: str
    read_only: bool = False
    secure_cookie: bool = False
    max_age: timedelta = timedelta(hours=12)
    alert_poll: timedelta = timedelta(seconds=2)  # how often the alert stream reads
    alert_polls: int = 300  # reads before a stream ends (the browser reconnects)


def create_app(
    desk: Desk, verify_password: Callable[[str], bool], options: WebOptions, clock: Clock
) -> Starlette:
    """The ASGI app for ``desk``; ``verify_password`` checks a login attempt."""
    web = _Web(desk, verify_password, options, clock)
    routes = [
        Route("/login", web.login_page, methods=["GET"]),
        Route("/login", web.login, methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/", web.today, methods=["GET"]),
        Route("/today/chart/{ticker:str}.png", web.candidate_chart, methods=["GET"]),
        Route("/alerts/stream", web.alert_stream, methods=["GET"]),
        Route("/desk/confirm", web.confirm, methods=["GET"]),
        Route("/desk/act", web.act, methods=["POST"]),
        Route("/journal", web.trips, methods=["GET"]),
        Route("/journal/{trip_id:int}", web.trip, methods=["GET"]),
        Route("/journal/{trip_id:int}/review", web.review, methods=["POST"]),
        Route("/journal/{trip_id:int}/chart/{image_id:int}.png", web.chart, methods=["GET"]),
        Route("/stats", web.stats, methods=["GET"]),
        Route("/stats/equity.png", web.equity, methods=["GET"]),
        *record_routes(web, desk),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(_SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=options.session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=int(options.max_age.total_seconds()),
            same_site="strict",
            https_only=options.secure_cookie,
        ),
    ]
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={SkimdError: web.failed}
    )


_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class _SecurityHeaders:
    """Adds :data:`~skimd.web.security.SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_HEADERS)
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, with_headers)


class _Web:
    def __init__(
        self,
        desk: Desk,
        verify_password: Callable[[str], bool],
        options: WebOptions,
        clock: Clock,
    ) -> None:
        self._desk = desk
        self._verify = verify_password
        self._options = options
        self._sessions = Sessions(clock, options.max_age)
        self._throttle = LoginThrottle(clock)
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self._templates = Jinja2Templates(env=env)

    # -- plumbing ---------------------------------------------------------------------------

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        context = {
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request.session),
            "read_only": self._options.read_only,
            "logged_in": self.signed_in(request),
            "flash": request.session.pop("flash", None),
            **context,
        }
        return self._templates.TemplateResponse(request, name, context, status_code=status_code)

    def signed_in(self, request: Request) -> bool:
        return self._sessions.is_live(request.session.get("sid"))

    def to_login(self) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def _form(self, request: Request) -> dict[str, str] | None:
        """The POSTed form when its CSRF token is the session's; else None."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return values if csrf_ok(request.session, values.get(CSRF_FIELD)) else None

    def refused(self, request: Request, why: str, status_code: int) -> Response:
        return self.render(request, "error.html", {"message": why}, status_code=status_code)

    async def failed(self, request: Request, exc: Exception) -> Response:
        """A failure of ours (no database yet, a damaged one, a locked file): its one line,
        as the CLI prints it, with 503; anything else stays Starlette's bare 500."""
        return self.refused(request, str(exc), 503)

    # -- login ------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if self.signed_in(request):
            return RedirectResponse("/", status_code=303)
        return self.render(request, "login.html", {})

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return self.refused(request, "The form has expired; reload and try again.", 403)
        if not self._throttle.allowed():
            return self.render(
                request, "login.html", {"error": "Too many failed logins; wait a while."}, 429
            )
        if not await run_in_threadpool(self._verify, form.get("password", "")):
            self._throttle.failed()
            return self.render(request, "login.html", {"error": "Wrong password."}, 401)
        self._throttle.succeeded()
        request.session.clear()  # a fresh session (and CSRF token) for the logged-in trader
        request.session["sid"] = self._sessions.open()
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return self.refused(request, "The form has expired; reload and try again.", 403)
        self._sessions.close(request.session.get("sid"))
        request.session.clear()
        return self.to_login()

    # -- today ------------------------------------------------------------------------------

    async def today(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        report = await run_in_threadpool(self._desk.today)
        alerts = await run_in_threadpool(self._desk.alerts)
        return self.render(request, "today.html", {"report": report, "alerts": alerts})

    async def alert_stream(self, request: Request) -> Response:
        return alert_stream_response(
            request, self._desk, lambda: self.signed_in(request),
            poll=self._options.alert_poll, polls=self._options.alert_polls,
        )

    async def candidate_chart(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        ticker: str = request.path_params["ticker"]
        png = None
        if TICKER.fullmatch(ticker):
            png = await run_in_threadpool(self._desk.candidate_chart, ticker)
        if png is None:
            return Response("no chart", status_code=404, media_type="text/plain")
        return Response(png, media_type="image/png")

    async def confirm(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        if self._options.read_only:
            return self.refused(request, "skimd web is read-only.", 403)
        action = request.query_params.get("action", "")
        if action not in ACTIONS:
            return self.refused(request, f"Unknown action {action!r}.", 400)
        ticker = request.query_params.get("ticker") or None
        return self.render(request, "confirm.html", {"action": action, "ticker": ticker})

    async def act(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        form = await self._form(request)
        if form is None:
            return self.refused(request, "The form has expired; reload and try again.", 403)
        if self._options.read_only:
            return self.refused(request, "skimd web is read-only.", 403)
        if form.get("confirm") != "yes":
            return self.refused(request, "Not confirmed: nothing was done.", 400)
        action = form.get("action", "")
        try:
            lines = await run_in_threadpool(
                self._desk.act, action, form.get("ticker") or None, form.get("reason")
            )
        except (InvalidInputError, DaemonUnavailableError, DaemonReplyError) as exc:
            return self.refused(request, str(exc), 400)
        request.session["flash"] = lines
        return RedirectResponse("/", status_code=303)

    # -- journal ----------------------------------------------------------------------------

    async def trips(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        query = request.query_params
        try:
            wanted = TripFilter(
                date_param(query.get("from")),
                date_param(query.get("to")),
                query.get("ticker") or None,
                page_param(query.get("page")),
            )
            found = await run_in_threadpool(self._desk.trips, wanted)
        except InvalidInputError as exc:
            return self.refused(request, str(exc), 400)
        others = {k: v for k, v in query.items() if k != "page" and v}
        return self.render(
            request,
            "trips.html",
            {"found": found, "query": dict(query), "others": others, "zone": self._desk.zone},
        )

    async def trip(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        return await self._trip_page(request, request.path_params["trip_id"])

    async def _trip_page(
        self,
        request: Request,
        trip_id: int,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        """The round-trip page; ``values`` and ``error`` show a refused review again."""
        found = await run_in_threadpool(self._desk.trip, trip_id)
        if found is None:
            return self.refused(request, "No such round trip.", 404)
        row, charts = found
        stored = await run_in_threadpool(self._desk.review_of, trip_id)
        return self.render(
            request,
            "trip.html",
            {
                "trip": row,
                "charts": [c.image_id for c in charts],
                "zone": self._desk.zone,
                "review": form_values(stored),
                "values": values if values is not None else form_values(stored),
                "review_error": error,
            },
            status_code=status_code,
        )

    async def review(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        form = await self._form(request)
        if form is None:
            return self.refused(request, "The form has expired; reload and try again.", 403)
        if self._options.read_only:
            return self.refused(request, "skimd web is read-only.", 403)
        trip_id: int = request.path_params["trip_id"]
        try:
            stored = await run_in_threadpool(self._desk.review_of, trip_id)
        except UnknownRoundTripError:
            return self.refused(request, "No such round trip.", 404)
        try:
            wanted: Review = review_from_form(form, stored)
            await run_in_threadpool(self._desk.review, trip_id, wanted)
        except ReviewFieldError as exc:
            why = f"{LABELS.get(exc.field, exc.field)}: {exc.problem}"
            return await self._trip_page(request, trip_id, submitted_values(form), why, 400)
        except InvalidInputError as exc:
            return await self._trip_page(request, trip_id, submitted_values(form), str(exc), 400)
        request.session["flash"] = [f"Review of round trip {trip_id} saved."]
        return RedirectResponse(f"/journal/{trip_id}", status_code=303)

    async def chart(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        found = await run_in_threadpool(self._desk.trip, request.path_params["trip_id"])
        wanted = request.path_params["image_id"]
        chart = next((c for c in (found[1] if found else []) if c.image_id == wanted), None)
        if chart is None:
            return Response("no such chart", status_code=404, media_type="text/plain")
        return Response(chart.data, media_type=chart.mime or "image/png")

    async def stats(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        query = request.query_params
        try:
            date_from, date_to = date_param(query.get("from")), date_param(query.get("to"))
            by = (
                group_param(query["by"]) if "by" in query
                else await run_in_threadpool(self._desk.default_grouping)
            )
            report = await run_in_threadpool(self._desk.stats, date_from, date_to, by)
        except InvalidInputError as exc:
            return self.refused(request, str(exc), 400)
        return self.render(
            request,
            "stats.html",
            {
                "total": stats_json(report.total),
                "groups": [stats_json(g) for g in report.groups],
                "group_names": [str(g) for g in GroupBy],
                "notes": report.notes,
                "query": dict(query),
                "by": "" if by is None else str(by),
                "zone": self._desk.zone,
                "has_curve": bool(report.curve),
            },
        )

    async def equity(self, request: Request) -> Response:
        if not self.signed_in(request):
            return self.to_login()
        query = request.query_params
        try:
            date_from, date_to = date_param(query.get("from")), date_param(query.get("to"))
            png = await run_in_threadpool(self._desk.equity_png, date_from, date_to)
        except InvalidInputError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        if png is None:
            return Response("no round trips", status_code=404, media_type="text/plain")
        return Response(png, media_type="image/png")

