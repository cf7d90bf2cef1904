"""Kiosks: a person enrols themselves from their chip ID card (issues 15, 26).

The kiosk page -- signed in as the kiosk's own login (role `kiosk`, bound to its device: it may use that kiosk
and nothing else), or as the counter's staff -- asks a kiosk device to read the card with the details the person
typed (or the card's QR code), follows the read (card checked, live face matched) and records the person's answer
on the consent screen. What the card gave is deleted once they answer (gateway/services/people/kiosk.py). What a
kiosk enrols for and until when is its set-up, made by staff (gateway/services/devices/kiosks.py); the visitor
decides nothing but their answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from gateway.api.deps import LIVE_ROLES, GatewayDep, actor, require
from gateway.errors import Unavailable
from gateway.services.devices.kiosks import KioskSetup, kiosk_setup, provision_kiosk, set_up_kiosk
from gateway.services.exams.checkin import check_in as check_in_at_door
from gateway.services.exams.checkin import request_checkin
from gateway.services.people.kiosk import STOPS, FaceCheck, decide, get_read, may_enrol, request_read
from gateway.services.security.auth import KIOSK
from gateway.services.security.pki import CertificateAuthority
from gateway.storage import CardReadRow, Session
from wire.bundle import bundle_text
from wire.commands import DOOR_COMMAND_MAX_AGE_S
from wire.names import Purpose
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/kiosks", tags=["kiosk"])
KIOSK_ROLES = (*LIVE_ROLES, KIOSK)
# A read the kiosk device has not taken up by then never will be: the command is stale on arrival.
NO_ANSWER_AFTER = timedelta(seconds=DOOR_COMMAND_MAX_AGE_S + 10)
Device = Annotated[str, Path(pattern=ID_PATTERN.pattern)]
ReadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]


class KioskOut(BaseModel):
    device: str
    site: str
    name: str
    online: bool


class SetupOut(BaseModel):
    device: str
    site: str
    online: bool  # the kiosk device is connected: it can read a card now
    purpose: Purpose
    ticket_days: int  # the consent ends at 23:59 on the site's clock, this many days after today
    valid_until: str  # ... for a visitor starting now
    updated_by: str | None
    updated_at: str | None
    mode: Literal["enrol", "checkin"]  # enrol visitors, or check an exam room's candidates in at its door
    room: str | None  # checkin: the room it serves (None: every room)
    basis: Literal["consent", "exam_rules"]  # checkin: the candidate answers the exam notice, or the exam rules


class SetupIn(BaseModel):
    purpose: Purpose
    ticket_days: int = Field(ge=0)
    mode: Literal["enrol", "checkin"] = "enrol"
    room: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    basis: Literal["consent", "exam_rules"] = "consent"


class KioskIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    name: str = Field(pattern=ID_PATTERN.pattern)  # the device's id, and its login's name
    password: str = Field(min_length=10, max_length=200)  # the kiosk login's, typed on the kiosk's screen once
    purpose: Purpose = "gate"
    ticket_days: int = Field(0, ge=0)
    broker_url: str = Field("mqtt://127.0.0.1:1883", max_length=200)


class KioskProvisioned(BaseModel):
    device: str
    login: str
    bundle_toml: str  # secret: hand it to the device, keep no copy


class ReadIn(BaseModel):
    # The card's details as printed in the MRZ (dates YYMMDD) -- or none of the three: the kiosk reads them from
    # the card's QR code with its camera.
    document: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)] | None = None
    birth: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    expiry: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    # Staff only (a kiosk's own login may not): the kiosk's set-up decides both otherwise. A purpose other than
    # the set-up's is refused; an end replaces the set-up's for this person (at most max_validity_days on).
    purpose: Purpose | None = None
    valid_until: AwareDatetime | None = None


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
    device_online: bool  # the kiosk device is connected (a read asked of one that is not never starts)
    may_enrol: bool
    refusal: str | None  # why not (gateway.services.people.kiosk.REFUSALS), once the read has gone as far as it can
    already_enrolled: bool


class DecisionIn(BaseModel):
    agree: bool


class DecisionOut(BaseModel):
    outcome: Literal["enrolled", "extended", "declined"]
    subject: str | None


class CheckInIn(BaseModel):
    agree: bool | None = None  # the answer to the exam notice; none where the exam rules are the basis


class CheckInOut(BaseModel):
    outcome: Literal["checked_in", "see_supervisor"]
    name: str | None  # as the council's list writes it
    number: str | None
    room: str | None
    seat: str | None
    reason: str | None  # see_supervisor: why (face_refused, not_listed, not_matched, ...), or a checked-in
    #                     candidate's seat not started yet (not_scheduled, or the device's problem)
    sent: bool  # the session went to the seat's device


def _out(gw, read: CardReadRow) -> ReadOut:
    device = gw.store.devices.get(read.device)
    online = bool(device and device.online and device.active)
    stage, outcome = read.stage, read.outcome
    asked_at = datetime.fromisoformat(read.requested_at.replace("Z", "+00:00"))
    if stage == "asked" and datetime.now(timezone.utc) - asked_at > NO_ANSWER_AFTER:
        stage, outcome = "failed", "no_answer"  # the kiosk device never took the read up: it will not now
    refusal = may_enrol(read, gw.config.kiosk)
    finished = stage in ("face", "failed") or read.passive in STOPS or (
        read.passive == "untrusted_issuer" and not gw.config.kiosk.allow_untrusted_issuer) or (
        stage == "read" and refusal in STOPS)
    check = FaceCheck.of(read, gw.config.kiosk) if stage == "face" else None
    holder = gw.store.people.subject_by_card(read.card_hash) if read.card_hash else None
    return ReadOut(read=read.id, device=read.device, site=read.site, purpose=read.purpose, stage=stage,
                   outcome=outcome, passive=read.passive,
                   problems=read.problems, name=read.name, mrz_name=read.mrz_name,
                   score=check.cosine if check else None, threshold=check.threshold if check else None,
                   liveness=read.liveness, valid_until=read.valid_until, device_online=online,
                   may_enrol=refusal is None, refusal=refusal if finished else None,
                   already_enrolled=holder is not None)


@router.get("", response_model=list[KioskOut])
def kiosks(gw: GatewayDep, _: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> list[KioskOut]:
    """The kiosk devices (operators, supervisors, admins)."""
    return [KioskOut(device=d.id, site=d.site, name=d.name, online=d.online) for d in gw.store.devices.all()
            if d.kind == "kiosk" and d.active]


def _own(device: str, session: Session) -> None:
    """A kiosk's own login uses its own kiosk, nothing else."""
    if session.user.role == KIOSK and session.user.device != device:
        raise HTTPException(403, "this kiosk's login may use its own kiosk only")


def _setup_out(setup: KioskSetup) -> SetupOut:
    return SetupOut(**vars(setup))


@router.post("", status_code=201, response_model=KioskProvisioned)
def provision(body: KioskIn, gw: GatewayDep,
              session: Annotated[Session, Depends(require("admin"))]) -> KioskProvisioned:
    """Provision a kiosk: its device (the answer holds its bundle: secret, keep no copy), its own login (named as
    the device, with this password) and its set-up."""
    if gw.broker_files is None:
        raise Unavailable("provisioning is not available on this gateway")
    bundle = provision_kiosk(gw.store, gw.auth, gw.broker_files, gw.secrets, site=body.site, device=body.name,
                             password=body.password, purpose=body.purpose, ticket_days=body.ticket_days,
                             broker_url=body.broker_url, actor=actor(session), zone=gw.config.time_zone,
                             ca=CertificateAuthority(gw.config.secrets_dir / "pki"),
                             max_validity_days=gw.config.kiosk.max_validity_days)
    if gw.on_consent_change:
        gw.on_consent_change()  # its gallery
    return KioskProvisioned(device=bundle.device, login=bundle.device, bundle_toml=bundle_text(bundle))


@router.get("/{device}/setup", response_model=SetupOut)
def setup(device: Device, gw: GatewayDep, session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> SetupOut:
    """What kiosk `device` enrols for and until when, and whether its device is connected."""
    _own(device, session)
    return _setup_out(kiosk_setup(gw.store, device, gw.config.time_zone))


@router.put("/{device}/setup", response_model=SetupOut)
def change_setup(device: Device, body: SetupIn, gw: GatewayDep,
                 session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> SetupOut:
    """Set what kiosk `device` enrols its next visitors for: the purpose and the ticket's days (staff)."""
    return _setup_out(set_up_kiosk(gw.store, device, body.purpose, body.ticket_days, actor(session),
                                   gw.config.time_zone, gw.config.kiosk.max_validity_days, body.mode, body.room,
                                   body.basis))


@router.post("/{device}/reads", status_code=202, response_model=ReadOut)
def start_read(device: Device, body: ReadIn, gw: GatewayDep,
               session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> ReadOut:
    """Ask kiosk `device` to read the card on its reader with these details; follow it at GET .../{read}.
    409 if the kiosk device is offline."""
    _own(device, session)
    if session.user.role == KIOSK and (body.purpose is not None or body.valid_until is not None):
        raise HTTPException(403, "the kiosk's set-up decides the purpose and the ticket's end, not the visitor")
    read = request_read(gw.store, gw.send, gw.secrets.signing_key if gw.send else None, device, body.document,
                        body.birth, body.expiry, body.purpose,
                        body.valid_until.isoformat() if body.valid_until else None, session.user.name,
                        gw.config.time_zone, gw.config.kiosk.max_validity_days)
    return _out(gw, read)


@router.get("/{device}/reads/{read}", response_model=ReadOut)
def read_status(device: Device, read: ReadId, gw: GatewayDep,
                session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> ReadOut:
    """Where the read stands: the card's check, the live match, whether the person may be enrolled."""
    _own(device, session)
    return _out(gw, get_read(gw.store, device, read))


@router.post("/{device}/reads/{read}/decision", response_model=DecisionOut)
def answer(device: Device, read: ReadId, body: DecisionIn, gw: GatewayDep,
           session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> DecisionOut:
    """The person's answer on the consent screen: enrolled (or their consent extended), or declined. Either
    way what the card gave is deleted."""
    _own(device, session)
    decision = decide(gw.store, gw.secrets, gw.config.kiosk, device, read, body.agree, session.user.name)
    if decision.outcome != "declined" and gw.on_consent_change:
        gw.on_consent_change()  # the gates get the person within a second
    return DecisionOut(outcome=decision.outcome, subject=decision.subject)


@router.post("/{device}/checkins", status_code=202, response_model=ReadOut)
def start_checkin(device: Device, gw: GatewayDep,
                  session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> ReadOut:
    """At an exam room's door (a kiosk set up for `checkin`): read the card on the reader with the keys of the
    candidates expected there, nothing typed; follow it at GET .../reads/{read}. 409 if the kiosk is offline."""
    _own(device, session)
    read = request_checkin(gw.store, gw.send, gw.secrets.signing_key if gw.send else None, device,
                           session.user.name, gw.config.time_zone)
    return _out(gw, read)


@router.post("/{device}/reads/{read}/checkin", response_model=CheckInOut)
def check_in(device: Device, read: ReadId, body: CheckInIn, gw: GatewayDep,
             session: Annotated[Session, Depends(require(*KIOSK_ROLES))]) -> CheckInOut:
    """The door's decision on a finished read, with the candidate's answer to the exam notice: checked in (their
    room and seat; the session goes to the seat's device) or sent to a supervisor, saying why. The card's files are
    deleted either way."""
    _own(device, session)
    done = check_in_at_door(gw.store, gw.secrets, gw.config.kiosk, device, read, body.agree, session.user.name,
                            gw.config.time_zone, gw.publish, gw.secrets.signing_key if gw.publish else None,
                            gw.enrolment.photo_template if gw.enrolment else None)
    if done.outcome == "checked_in" and gw.on_consent_change:
        gw.on_consent_change()  # the seat's device gets the candidate's face within a second
    return CheckInOut(outcome=done.outcome, name=done.name, number=done.number, room=done.room, seat=done.seat,
                      reason=done.reason, sent=done.sent)
