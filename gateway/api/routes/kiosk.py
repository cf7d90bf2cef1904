"""Kiosks: a person enrols themselves from their chip ID card (issue 15).

The kiosk page, signed in as the counter's operator, asks a kiosk device to read the card with the MRZ details
the person typed, follows the read (card checked, live face matched) and records the person's answer on the
consent screen. What the card gave is deleted once they answer (gateway/services/people/kiosk.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, StringConstraints

from gateway.api.deps import LIVE_ROLES, GatewayDep, require
from gateway.services.people.kiosk import STOPS, FaceCheck, decide, get_read, may_enrol, request_read
from gateway.storage import CardReadRow, Session
from wire.names import Purpose
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/kiosks", tags=["kiosk"])
Device = Annotated[str, Path(pattern=ID_PATTERN.pattern)]
ReadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]


class KioskOut(BaseModel):
    device: str
    site: str
    name: str
    online: bool


class ReadIn(BaseModel):
    # The card's details as printed in the MRZ (dates YYMMDD) -- or none of the three: the kiosk reads them from
    # the card's QR code with its camera.
    document: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)] | None = None
    birth: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    expiry: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    purpose: Purpose = "gate"  # a kiosk enrols for the gates only (anything else is refused with a reason)
    valid_until: AwareDatetime | None = None  # the ticket's end: the consent's (required, refused with a reason)


class ReadOut(BaseModel):
    read: str
    device: str
    site: str
    purpose: Purpose
    stage: Literal["asked", "read", "face", "failed"]
    outcome: str | None  # the stage's outcome (see wire.events.CardEvent)
    passive: str | None  # the gateway's passive authentication
    problems: list[str]
    name: str | None  # the name as the card writes it (DG13, else DG1's): the person checks it is theirs
    mrz_name: str | None  # DG1's ASCII name, beside it
    score: float | None  # live face to chip portrait, as the gateway computed it from the two sealed templates
    threshold: float | None  # the score a match needs (the pack's 1:1 threshold, or the gateway's own)
    liveness: float | None
    valid_until: str | None
    may_enrol: bool
    refusal: str | None  # why not (gateway.services.people.kiosk.REFUSALS), once the read has gone as far as it can
    already_enrolled: bool


class DecisionIn(BaseModel):
    agree: bool


class DecisionOut(BaseModel):
    outcome: Literal["enrolled", "extended", "declined"]
    subject: str | None


def _out(gw, read: CardReadRow) -> ReadOut:
    refusal = may_enrol(read, gw.config.kiosk)
    finished = read.stage in ("face", "failed") or read.passive in STOPS or (
        read.passive == "untrusted_issuer" and not gw.config.kiosk.allow_untrusted_issuer) or (
        read.stage == "read" and refusal in STOPS)
    check = FaceCheck.of(read, gw.config.kiosk) if read.stage == "face" else None
    holder = gw.store.people.subject_by_card(read.card_hash) if read.card_hash else None
    return ReadOut(read=read.id, device=read.device, site=read.site, purpose=read.purpose, stage=read.stage,
                   outcome=read.outcome, passive=read.passive,
                   problems=read.problems, name=read.name, mrz_name=read.mrz_name,
                   score=check.cosine if check else None, threshold=check.threshold if check else None,
                   liveness=read.liveness, valid_until=read.valid_until, may_enrol=refusal is None,
                   refusal=refusal if finished else None, already_enrolled=holder is not None)


@router.get("", response_model=list[KioskOut])
def kiosks(gw: GatewayDep, _: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> list[KioskOut]:
    """The kiosk devices (operators, supervisors, admins)."""
    return [KioskOut(device=d.id, site=d.site, name=d.name, online=d.online) for d in gw.store.devices.all()
            if d.kind == "kiosk" and d.active]


@router.post("/{device}/reads", status_code=202, response_model=ReadOut)
def start_read(device: Device, body: ReadIn, gw: GatewayDep,
               session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> ReadOut:
    """Ask kiosk `device` to read the card on its reader with these details; follow it at GET .../{read}."""
    read = request_read(gw.store, gw.send, gw.secrets.signing_key if gw.send else None, device, body.document,
                        body.birth, body.expiry, body.purpose,
                        body.valid_until.isoformat() if body.valid_until else None, session.user.name,
                        gw.config.kiosk.max_validity_days)
    return _out(gw, read)


@router.get("/{device}/reads/{read}", response_model=ReadOut)
def read_status(device: Device, read: ReadId, gw: GatewayDep,
                _: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> ReadOut:
    """Where the read stands: the card's check, the live match, whether the person may be enrolled."""
    return _out(gw, get_read(gw.store, device, read))


@router.post("/{device}/reads/{read}/decision", response_model=DecisionOut)
def answer(device: Device, read: ReadId, body: DecisionIn, gw: GatewayDep,
           session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> DecisionOut:
    """The person's answer on the consent screen: enrolled (or their consent extended), or declined. Either
    way what the card gave is deleted."""
    decision = decide(gw.store, gw.secrets, gw.config.kiosk, device, read, body.agree, session.user.name)
    if decision.outcome != "declined" and gw.on_consent_change:
        gw.on_consent_change()  # the gates get the person within a second
    return DecisionOut(outcome=decision.outcome, subject=decision.subject)
