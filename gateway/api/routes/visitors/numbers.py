"""The day in numbers: a site's visitors by hour, day, gate, ticket type and way in, the peak inside and refusals
by reason, for a day or a range of days -- as JSON for the numbers page's charts and as the XLSX the Department
of Culture, Sports and Tourism gets each month."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from gateway.api.deps import GatewayDep, require
from gateway.api.templates import reader_words
from gateway.i18n.names import name_of
from gateway.services.visitors.numbers import day_in_numbers, workbook
from gateway.services.visitors.occupancy import today
from gateway.storage import Session
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api", tags=["numbers"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Readers = Annotated[Session, Depends(require("admin", "operator", "supervisor", "auditor"))]
Site = Annotated[str | None, Query(pattern=ID_PATTERN.pattern)]


class NumbersView(BaseModel):
    site: str | None  # None: every site
    first_day: str
    last_day: str
    visitors: int  # let in
    left: int  # let out
    by_hour: list[int]  # 24: visitors by the local hour they came in
    by_day: dict[str, int]
    by_gate: dict[str, int]
    by_ticket_type: dict[str, int]  # "" for no ticket (admitted by consent)
    by_method: dict[str, int]  # face, qr
    refusals: dict[str, int]  # verdict -> how many
    peak: int
    peak_day: str | None
    ticket_names: dict[str, str]


def _range(gw, first: date | None, last: date | None) -> tuple[date, date | None]:
    return first or date.fromisoformat(today(gw.config.time_zone)), last


@router.get("/numbers", response_model=NumbersView)
async def numbers(gw: GatewayDep, session: Readers, site: Site = None, first: date | None = Query(None, alias="from"),
                  last: date | None = Query(None, alias="to")) -> NumbersView:
    """The numbers of a site (every site if none) from `from` (today if absent) to `to` (that day if absent), on
    the sites' clock: at most 62 days."""
    start, end = _range(gw, first, last)
    found = await run_in_threadpool(day_in_numbers, gw.store, gw.config.time_zone, start, end, site)
    return NumbersView(**found.api())


@router.get("/numbers.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def numbers_xlsx(request: Request, gw: GatewayDep, session: Readers, site: Site = None,
                       first: date | None = Query(None, alias="from"),
                       last: date | None = Query(None, alias="to")) -> Response:
    """The same numbers as an XLSX workbook in the reader's language: a sheet each for the summary, the days,
    the hours, the gates, the ticket types and the refusals."""
    start, end = _range(gw, first, last)
    found = await run_in_threadpool(day_in_numbers, gw.store, gw.config.time_zone, start, end, site)
    words = reader_words(request, session, accept_language=True)
    everywhere = words.gettext("every site")
    site_name = next((s.name or s.id for s in gw.store.people.sites() if s.id == site), everywhere) if site \
        else everywhere
    book = await run_in_threadpool(workbook, found, words, site_name, lambda v: words.gettext(name_of(v)))
    return Response(book, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="visitors-{site or "all"}-{found.first_day}-{found.last_day}'
                               '.xlsx"',
        "Cache-Control": "no-store"})
