"""Passes: sold, extended and cancelled by a site's ticketing system (role `ticketing`, its own site only) or an
admin; listed for them and the site's operators.

A request that sells may carry an `Idempotency-Key` header (a ticketing system's must): a retry with it gets
the first answer again (200, `replayed`), never a second sale; the key sent with a different request is 409.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.api.deps import TICKET_ROLES, GatewayDep, actor, require, site_scope
from gateway.errors import NotFound
from gateway.i18n import N_
from gateway.services.security.auth import TICKETING
from gateway.services.visitors.passes import Sale, cancel, extend, pass_view, sell, sell_group
from gateway.services.visitors.qr import ticket_image, ticket_text
from gateway.storage import Session
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/passes", tags=["passes"])
PassId = Annotated[str, Path(pattern=r"^P[0-9A-Z]{10}$")]
Sellers = Annotated[Session, Depends(require(*TICKET_ROLES))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
Reference = Annotated[str | None, Field(None, max_length=100)]


class PassView(BaseModel):
    id: str
    site: str
    ticket_type: str
    holder: Literal["face", "qr"]
    subject: str | None
    group: str | None
    group_role: Literal["guide", "member"] | None
    valid_from: str  # UTC; the first local day's start
    valid_until: str  # UTC, excluded; the day after the last local day, at its start
    gates: list[str]  # [] every gate of the site
    entries: int | None
    used: int
    status: Literal["active", "cancelled"]
    reference: str | None
    created_at: str
    created_by: str
    qr: str | None = None  # a QR pass's ticket, in a sale's answer: print it (GET /api/passes/{id}/ticket.png)


class Sold(BaseModel):
    passes: list[PassView]
    group: str | None = None
    replayed: bool  # the answer to an earlier request with the same idempotency key: nothing new was sold


class SaleIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    ticket_type: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    first_day: date | None = None  # on the site's clock; today if absent
    subject: str | None = Field(None, pattern=ID_PATTERN.pattern)  # the face that holds it; absent: a QR ticket
    reference: Reference  # the ticketing system's own (an order number)


class GroupIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    ticket_type: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    first_day: date | None = None
    members: int = Field(ge=1, le=200)  # besides the guide
    guide: str | None = Field(None, pattern=ID_PATTERN.pattern)  # the guide's face; absent: a QR ticket
    reference: Reference


class ExtendIn(BaseModel):
    last_day: date  # on the site's clock, included


class CancelIn(BaseModel):
    reason: str | None = Field(None, max_length=500)


def _key(session: Session, key: str | None) -> str | None:
    if key is None and session.user.role == TICKETING:
        raise HTTPException(400, N_("a ticketing system's sale needs an Idempotency-Key header"))
    return key


def _sold(gw, response: Response, answer: dict) -> Sold:
    if answer["replayed"]:
        response.status_code = 200
    elif gw.on_consent_change:  # the gates' galleries and ticket lists carry the passes: make them now
        gw.on_consent_change()
    tickets = [p | {"qr": ticket_text(gw.secrets, p)} for p in answer["passes"]]
    return Sold(**answer | {"passes": tickets})


@router.get("", response_model=list[PassView])
def list_passes(gw: GatewayDep, session: Annotated[Session, Depends(require("admin", "operator", TICKETING))],
                site: Annotated[str | None, Query(pattern=ID_PATTERN.pattern)] = None,
                subject: Annotated[str | None, Query(pattern=ID_PATTERN.pattern)] = None,
                group: Annotated[str | None, Query(pattern=r"^G[0-9A-Z]{10}$")] = None,
                before: Annotated[str | None, Query(pattern=r"^P[0-9A-Z]{10}$")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[PassView]:
    """Passes, newest first, a page of `limit` (the next page: `before` the last one's id); a ticketing login sees
    its own site's only."""
    found = gw.store.passes.find(site_scope(session, site), subject, group, limit, before)
    return [PassView(**p.__dict__ | {"holder": "face" if p.subject else "qr", "group": p.group_id}) for p in found]


@router.get("/{pass_id}/ticket.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the QR ticket, to print"}})
def ticket_png(pass_id: PassId, gw: GatewayDep, session: Sellers) -> Response:
    """A QR pass's ticket as a PNG to print (8 px a module: 30 mm wide at 300 dpi, or more); 404 for a pass held
    by a face. Seeing it is as good as holding it: the ticket seller's and the admin's only."""
    held = gw.store.passes.get(pass_id)
    scope = site_scope(session, None)
    if held is None or held.subject is not None or (scope is not None and held.site != scope):
        raise NotFound("no QR ticket for pass '{id}'", id=pass_id)
    png = ticket_image(ticket_text(gw.secrets, pass_view(held)))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("", status_code=201, response_model=Sold)
async def sell_pass(body: SaleIn, gw: GatewayDep, session: Sellers, response: Response,
                    key: IdempotencyKey = None) -> Sold:
    """Sell a pass of one of the site's ticket types, held by an enrolled face (whose gate consent covers the site
    for the whole pass) or by a QR ticket (audited)."""
    sale = Sale(site_scope(session, body.site), body.ticket_type, body.first_day, body.subject, body.reference)
    answer = await run_in_threadpool(sell, gw.store, sale, actor(session), gw.config.time_zone,
                                     _key(session, key))
    return _sold(gw, response, answer)


@router.post("/groups", status_code=201, response_model=Sold)
async def sell_group_passes(body: GroupIn, gw: GatewayDep, session: Sellers, response: Response,
                            key: IdempotencyKey = None) -> Sold:
    """Sell a group: the guide's pass and one for each member, every one entering once (audited)."""
    sale = Sale(site_scope(session, body.site), body.ticket_type, body.first_day, None, body.reference)
    answer = await run_in_threadpool(sell_group, gw.store, sale, body.members, actor(session), gw.config.time_zone,
                                     _key(session, key), body.guide)
    return _sold(gw, response, answer)


@router.post("/{pass_id}/extend", response_model=Sold)
async def extend_pass(pass_id: PassId, body: ExtendIn, gw: GatewayDep, session: Sellers, response: Response,
                      key: IdempotencyKey = None) -> Sold:
    """Let a pass in until the end of `last_day` (audited)."""
    answer = await run_in_threadpool(extend, gw.store, pass_id, body.last_day, actor(session), gw.config.time_zone,
                                     site_scope(session, None), key)
    return _sold(gw, response, answer)


@router.post("/{pass_id}/cancel", response_model=Sold)
async def cancel_pass(pass_id: PassId, body: CancelIn, gw: GatewayDep, session: Sellers, response: Response,
                      key: IdempotencyKey = None) -> Sold:
    """Cancel a pass (audited): the gates refuse it from their next gallery."""
    answer = await run_in_threadpool(cancel, gw.store, pass_id, actor(session), body.reason,
                                     site_scope(session, None), key)
    return _sold(gw, response, answer)
