"""The pages of the trader's own records: plans (one plan with its screenshots), mistakes
(filtered by round trip and date) and bank statements (lines and import batches). All are
GET-only reads: nothing here writes, so read-only mode changes nothing on them.

They follow the app's rules through :class:`Pages` (the app's plumbing): a login for every
page, a refused query named on a 400 page.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from skimd.errors import InvalidInputError
from skimd.services.journal.records import UnknownPlanError
from skimd.web.desk import Desk, MistakeFilter
from skimd.web.query import date_param, id_param, page_param


class Pages(Protocol):
    """What the app lends these pages: its templates, its login check and its refusals."""

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response: ...

    def signed_in(self, request: Request) -> bool: ...

    def to_login(self) -> Response: ...

    def refused(self, request: Request, why: str, status_code: int) -> Response: ...


def record_routes(pages: Pages, desk: Desk) -> list[Route]:
    records = _RecordPages(pages, desk)
    return [
        Route("/plans", records.plans, methods=["GET"]),
        Route("/plans/{plan_id:int}", records.plan, methods=["GET"]),
        Route("/plans/{plan_id:int}/image/{image_id:int}", records.plan_image, methods=["GET"]),
        Route("/mistakes", records.mistakes, methods=["GET"]),
        Route("/bank", records.bank, methods=["GET"]),
    ]


class _RecordPages:
    def __init__(self, pages: Pages, desk: Desk) -> None:
        self._pages = pages
        self._desk = desk

    async def plans(self, request: Request) -> Response:
        if not self._pages.signed_in(request):
            return self._pages.to_login()
        found = await run_in_threadpool(self._desk.plans)
        return self._pages.render(request, "plans.html", {"plans": found,
                                                          "zone": self._desk.zone})

    async def plan(self, request: Request) -> Response:
        if not self._pages.signed_in(request):
            return self._pages.to_login()
        try:
            plan, images = await run_in_threadpool(self._desk.plan, request.path_params["plan_id"])
        except UnknownPlanError:
            return self._pages.refused(request, "No such plan.", 404)
        return self._pages.render(request, "plan.html", {
            "plan": plan, "p": plan.summary, "images": images, "zone": self._desk.zone,
            "created_local": self._desk.local(plan.summary.created_at),
            "updated_local": self._desk.local(plan.updated_at),
        })

    async def plan_image(self, request: Request) -> Response:
        if not self._pages.signed_in(request):
            return self._pages.to_login()
        found = await run_in_threadpool(
            self._desk.plan_image, request.path_params["plan_id"], request.path_params["image_id"]
        )
        if found is None:
            return Response("no such image", status_code=404, media_type="text/plain")
        image, data = found
        return Response(data, media_type=image.mime)

    async def mistakes(self, request: Request) -> Response:
        if not self._pages.signed_in(request):
            return self._pages.to_login()
        query = request.query_params
        try:
            wanted = MistakeFilter(
                id_param(query.get("trip"), "round trip"),
                date_param(query.get("from")),
                date_param(query.get("to")),
                page_param(query.get("page")),
            )
            found = await run_in_threadpool(self._desk.mistakes, wanted)
        except InvalidInputError as exc:
            return self._pages.refused(request, str(exc), 400)
        rows = [{"m": m, "created_local": self._desk.local(m.created_at)} for m in found.rows]
        others = {k: v for k, v in query.items() if k != "page" and v}
        return self._pages.render(request, "mistakes.html", {
            "found": found, "rows": rows, "query": dict(query), "others": others,
            "zone": self._desk.zone,
        })

    async def bank(self, request: Request) -> Response:
        if not self._pages.signed_in(request):
            return self._pages.to_login()
        query = request.query_params
        try:
            found = await run_in_threadpool(
                self._desk.bank, query.get("batch") or None, page_param(query.get("page"))
            )
        except InvalidInputError as exc:
            return self._pages.refused(request, str(exc), 400)
        others = {k: v for k, v in query.items() if k != "page" and v}
        return self._pages.render(request, "bank.html", {
            "found": found, "others": others, "zone": self._desk.zone,
        })
