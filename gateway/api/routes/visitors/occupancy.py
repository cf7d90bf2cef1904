"""How many people are inside each site: watched on the live page, corrected by an operator's count, capped by an
admin (at capacity the site's gates answer `full` going in; exits stay open)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.api.deps import LIVE_ROLES, GatewayDep, actor, require
from gateway.services.visitors.occupancy import correct, current, set_capacity, today
from gateway.storage import Session, SiteOccupancy
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api", tags=["occupancy"])
SiteId = Annotated[str, Path(pattern=ID_PATTERN.pattern)]
Live = Annotated[Session, Depends(require(*LIVE_ROLES))]


class OccupancyView(BaseModel):
    site: str
    name: str  # the site's name, as an admin wrote it
    day: str  # YYYY-MM-DD on the site's clock
    inside: int
    peak: int  # the day's most inside at once
    capacity: int | None  # None: no limit
    full: bool  # at capacity: the gates' `in` lanes answer `full`
    updated_at: str | None  # None: nobody counted yet today


class CountIn(BaseModel):
    inside: int = Field(ge=0, le=1_000_000)
    reason: str = Field("", max_length=500)


class CapacityIn(BaseModel):
    capacity: int | None = Field(ge=1, le=1_000_000)  # None: no limit


def _view(o: SiteOccupancy, names: dict[str, str]) -> OccupancyView:
    return OccupancyView(site=o.site, name=names.get(o.site) or o.site, day=o.day, inside=o.inside, peak=o.peak, capacity=o.capacity, full=o.full,
                         updated_at=o.updated_at)


def _names(gw) -> dict[str, str]:
    return {s.id: s.name for s in gw.store.people.sites()}


def _changed(gw) -> None:
    if gw.on_consent_change:  # the gates learn that the site filled or emptied from their ticket lists: now
        gw.on_consent_change()


@router.get("/occupancy", response_model=list[OccupancyView])
def every_site(gw: GatewayDep, session: Live) -> list[OccupancyView]:
    """Every site's count today."""
    names = _names(gw)
    return [_view(o, names) for o in gw.store.occupancy.all_sites(today(gw.config.time_zone))]


@router.get("/sites/{site}/occupancy", response_model=OccupancyView)
def one_site(site: SiteId, gw: GatewayDep, session: Live) -> OccupancyView:
    return _view(current(gw.store, site, gw.config.time_zone), _names(gw))


@router.put("/sites/{site}/occupancy", response_model=OccupancyView)
async def count(site: SiteId, body: CountIn, gw: GatewayDep, session: Live) -> OccupancyView:
    """An operator's count of the people inside replaces the gates' (audited, with what it was)."""
    counted = await run_in_threadpool(correct, gw.store, site, body.inside, actor(session), gw.config.time_zone,
                                      body.reason)
    _changed(gw)
    return _view(counted, _names(gw))


@router.put("/sites/{site}/capacity", response_model=OccupancyView)
async def capacity(site: SiteId, body: CapacityIn, gw: GatewayDep,
                   session: Annotated[Session, Depends(require("admin"))]) -> OccupancyView:
    """The most people inside the site at once (null: no limit), audited."""
    changed = await run_in_threadpool(set_capacity, gw.store, site, body.capacity, actor(session),
                                      gw.config.time_zone)
    _changed(gw)
    return _view(changed, _names(gw))
