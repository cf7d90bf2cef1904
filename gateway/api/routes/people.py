"""Enrolled people, their consents and the erasures that follow a withdrawal."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from gateway.api.deps import AUDIT_ROLES, GatewayDep, actor, require
from gateway.api.params import time_param
from gateway.errors import Invalid, Unavailable
from gateway.services.people.consent import grant, withdraw
from gateway.services.people.enrolment import EnrolmentRequest
from gateway.storage import Session
from models.reasons import Reason
from wire.names import Purpose
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api", tags=["people"])
SubjectId = Annotated[str, Path(pattern=ID_PATTERN.pattern)]
MAX_PHOTO_BASE64 = 45_000_000  # a 30 MiB photo, base64


class ConsentIn(BaseModel):
    purpose: Purpose = "gate"
    sites: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=lambda: ["*"], min_length=1,
                                                             max_length=100)
    notice_version: str = Field("v1", max_length=32)
    channel: str = Field("counter", max_length=32)
    expires_at: datetime | None = None


class EnrolIn(ConsentIn):
    """One consented person: their photo (base64) and their consent."""

    subject: str | None = Field(None, pattern=ID_PATTERN.pattern, description="made from display_name if absent")
    display_name: str | None = Field(None, max_length=200, description="in any script, e.g. Trần Thị Bình")
    id_card: str | None = Field(None, max_length=32, description="stored only as a keyed hash")
    photo: str = Field(description="the photo file, base64", max_length=MAX_PHOTO_BASE64)


    @model_validator(mode="after")
    def _named(self) -> EnrolIn:
        if not self.subject and not (self.display_name or "").strip():
            raise ValueError("give a subject id, a display name, or both")
        return self


class WithdrawIn(BaseModel):
    purpose: Purpose | None = None  # None: every purpose


class Enrolled(BaseModel):
    subject: str
    enrolled: bool
    quality: float


class ConsentGranted(BaseModel):
    subject: str
    consent: int


class Withdrawn(BaseModel):
    subject: str
    erasure: int | None  # None: no device held them


@router.get("/subjects")
def list_subjects(gw: GatewayDep, session: Annotated[Session, Depends(require("admin", "supervisor"))],
                  q: Annotated[str | None, Query(max_length=100)] = None,
                  limit: Annotated[int | None, Query(ge=1, le=500)] = None,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[dict]:  # a database integer
    """Enrolled subjects with their consents (never ID-card numbers or templates), by id: every one, or those whose
    id or name holds `q`, a page of `limit` from `offset`."""
    rows = gw.store.people.subjects(q.strip() if q else None, limit, offset)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "subjects.read", None, {"returned": len(rows)} | ({"search": q} if q else {}))
    return [s.api() for s in rows]


@router.post("/subjects", status_code=201, response_model=Enrolled)
async def enrol_subject(body: EnrolIn, gw: GatewayDep,
                        session: Annotated[Session, Depends(require("admin"))]) -> Enrolled:
    """Enrol one consented person from a photo; 422 with the reason if the photo or consent is refused."""
    if gw.enrolment is None:
        raise Unavailable("enrolment is not available on this gateway")
    try:
        photo = base64.b64decode(body.photo, validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
        raise HTTPException(422, [{"loc": ["body", "photo"], "msg": "not base64", "type": "value_error"}]) from None
    request = EnrolmentRequest(source="upload", subject=body.subject or "", photo=photo, display_name=body.display_name,
                               id_card=body.id_card, purpose=body.purpose, sites=body.sites,
                               notice_version=body.notice_version, channel=body.channel,
                               expires_at=time_param(body.expires_at))
    result = await run_in_threadpool(gw.enrolment.enrol, request, actor(session))
    if not result.enrolled:
        with gw.store.db.transaction() as tx:
            tx.audit(actor(session), "subject.refused", result.subject or None, {"reason": result.reason})
        reason = result.reason
        raise Invalid(reason.template, **reason.params) if isinstance(reason, Reason) else Invalid(str(reason))
    if gw.on_consent_change:
        gw.on_consent_change()
    return Enrolled(subject=result.subject, enrolled=True, quality=round(result.quality, 3))


@router.post("/subjects/{subject}/consents", status_code=201, response_model=ConsentGranted)
def add_consent(subject: SubjectId, body: ConsentIn, gw: GatewayDep,
                session: Annotated[Session, Depends(require("admin"))]) -> ConsentGranted:
    """Record another consent for an enrolled subject; galleries follow within seconds."""
    consent = grant(gw.store, subject, body.purpose, body.sites, body.notice_version, body.channel,
                    time_param(body.expires_at), actor=actor(session))
    if gw.on_consent_change:
        gw.on_consent_change()
    return ConsentGranted(subject=subject, consent=consent)


@router.post("/subjects/{subject}/withdraw", response_model=Withdrawn)
def withdraw_consent(subject: SubjectId, body: WithdrawIn, gw: GatewayDep,
                     session: Annotated[Session, Depends(require("admin"))]) -> Withdrawn:
    """Withdraw consent: the subject leaves every gallery it no longer covers; the erasure is tracked."""
    erasure = withdraw(gw.store, subject, body.purpose, actor=actor(session))
    if gw.on_consent_change:
        gw.on_consent_change()
    return Withdrawn(subject=subject, erasure=erasure)


@router.get("/erasures")
def list_erasures(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
                  outstanding: bool = False) -> list[dict]:
    """Erasures and, per device, the gallery version that drops the subject and when it was confirmed."""
    return [e.api() for e in gw.store.galleries.erasures(outstanding_only=outstanding)]
