"""A site's kinds of ticket: listed for the site's staff and its ticketing system, set up by an admin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.api.deps import GatewayDep, actor, require, site_scope
from gateway.services.visitors.ticket_types import add_type, set_sold
from gateway.storage import Session, TicketType
from wire.names import TicketKind
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/sites/{site}/ticket-types", tags=["ticket types"])
SiteId = Annotated[str, Path(pattern=ID_PATTERN.pattern)]
Code = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Admin = Annotated[Session, Depends(require("admin"))]


class TicketTypeView(BaseModel):
    site: str
    code: str
    name: str
    kind: Literal[TicketKind]  # type: ignore[valid-type]
    days: int  # local days valid, from the first
    entries: int | None  # None: any number (anti-passback aside)
    gates: list[str]  # [] every gate of the site
    sold: bool


class TicketTypeIn(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal[TicketKind]  # type: ignore[valid-type]
    days: int | None = Field(None, ge=1, le=400)  # for `days` and `season`
    gates: list[Annotated[str, Field(pattern=ID_PATTERN.pattern)]] = Field(default_factory=list, max_length=64)


class TicketTypeChange(BaseModel):
    sold: bool


def _view(t: TicketType) -> TicketTypeView:
    return TicketTypeView(site=t.site, code=t.code, name=t.name, kind=t.kind, days=t.days, entries=t.entries,
                          gates=t.gates, sold=t.active)


@router.get("", response_model=list[TicketTypeView])
def list_types(site: SiteId, gw: GatewayDep,
               session: Annotated[Session, Depends(require("admin", "operator", "ticketing"))]) -> list[TicketTypeView]:
    """The site's kinds of ticket, sold or not (a ticketing login: its own site's only)."""
    return [_view(t) for t in gw.store.ticket_types.of_site(site_scope(session, site))]


@router.post("", status_code=201, response_model=TicketTypeView)
async def add(site: SiteId, body: TicketTypeIn, gw: GatewayDep, session: Admin) -> TicketTypeView:
    """A new kind of ticket at the site (audited)."""
    return _view(await run_in_threadpool(add_type, gw.store, site, body.code, body.name, body.kind, actor(session),
                                         body.days, body.gates))


@router.patch("/{code}", response_model=TicketTypeView)
async def change(site: SiteId, code: Code, body: TicketTypeChange, gw: GatewayDep, session: Admin) -> TicketTypeView:
    """Sell a kind of ticket again, or no longer (audited); passes sold stay valid."""
    return _view(await run_in_threadpool(set_sold, gw.store, site, code, body.sold, actor(session)))
