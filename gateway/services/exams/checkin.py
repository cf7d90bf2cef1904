"""Check-in at an exam room's door (issue 27): the candidate's chip card, their live face, and the seat they go to.

The door is a kiosk set up in `checkin` mode for a room (gateway/services/devices/kiosks.py). Nothing is typed:

1. `request_checkin` sends the kiosk the access keys of the candidates still expected at that door today -- from
   the council's list, the document number and birth date kept for the day, each with the expiries the card's
   rules allow (emrtd/access.py) -- the slots nearest now first. The kiosk finds the one the card opens with, reads
   and checks the chip (passive authentication; Chip and Active Authentication where the card offers them) and
   matches the live face to the chip's portrait, with liveness (gateway/services/people/kiosk.py follows it).
2. `check_in` decides, from what the gateway checked itself (`may_enrol`): the card must be genuine and its holder
   on the list for this door (the card number's keyed hash against the list's), the live face must match the
   chip's portrait and, where the list carries a photo, that photo too (the gateway embeds it with the read's
   model pack; a photo without one usable face sends the candidate to a supervisor rather than skip it). Where
   the centre's basis is the candidate's consent, their answer to the exam notice is recorded; a "no" -- or any
   failure -- leaves them to a supervisor's manual check-in (`check_in_by_hand`): the face is never the only way
   in. A candidate checked in has a template for the day (the chip's portrait and today's face, fused) with an
   exam consent ending at midnight, and their session goes to their seat's device with a gallery that holds
   them. The card's files are deleted either way, as at any kiosk.

Every outcome is audited, and kept on the candidate's row for the day's report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

from emrtd.access import listed_keys
from gateway.config import KioskSettings
from gateway.errors import Conflict, GatewayError, Invalid, NotFound
from gateway.services.devices.kiosks import kiosk_setup, ticket_end
from gateway.services.exams import schedule
from gateway.services.exams.sessions import Publish
from gateway.services.people.enrolment import Enroller, EnrolmentRequest
from gateway.services.people.kiosk import FaceCheck, Send, close_read, extend_consent, get_read, may_enrol, request_read
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import CardReadRow, ExamCandidate, Store
from models.photos import Template
from models.quality import QualitySettings
from wire import DeviceKey
from wire.commands import MAX_LISTED_KEYS
from wire.events import utc_text

# A template of the one face in a photo, made with the named model pack, or why there is none (the gateway's
# enrolment service: `EnrolmentService.photo_template`).
PhotoTemplate = Callable[[bytes, str], Template | str]
NOTICE_VERSION = "exam-checkin-v1"  # the exam notice the door shows (gateway/i18n: its words in vi and en)


def _today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def waiting(store: Store, site: str, room: str | None, zone: str) -> list[ExamCandidate]:
    """Today's candidates at `site` (in `room`, or every room) not yet checked in, whose keys are still kept; the
    slots nearest now first, then by candidate number."""
    now = datetime.now(ZoneInfo(zone))
    minutes = now.hour * 60 + now.minute

    def distance(c: ExamCandidate) -> int:
        hours, mins = c.slot.split(":")
        return abs(int(hours) * 60 + int(mins) - minutes)

    found = [c for c in store.candidates.day(site, f"{now.date():%Y-%m-%d}")
             if (room is None or c.room == room) and not c.checked_in_at and c.document and c.birth]
    return sorted(found, key=lambda c: (distance(c), schedule.seat_order(c.number)))


def request_checkin(store: Store, send: Send | None, signing_key: DeviceKey | None, device_id: str, user: str,
                    zone: str) -> CardReadRow:
    """Ask door kiosk `device_id` to read the card on its reader with the keys of the candidates expected there.
    Invalid if it is not set up as a door or nobody is expected; as `request_read` otherwise."""
    setup = kiosk_setup(store, device_id, zone)
    if setup.mode != "checkin":
        raise Invalid("kiosk {device} is not set up as an exam room's door", device=device_id)
    expected = waiting(store, setup.site, setup.room, zone)
    if not expected:
        raise Invalid("nobody on today's list is waiting to check in at this door")
    today = _today(zone)
    per_candidate = [listed_keys(c.document, date.fromisoformat(c.birth), today) for c in expected]
    keys: list[str] = []
    for rank in range(max(len(k) for k in per_candidate)):  # everyone's likeliest expiry first, then the next
        keys += [",".join(k[rank]) for k in per_candidate if rank < len(k)]
    return request_read(store, send, signing_key, device_id, None, None, None, None, None, user, zone,
                        listed=keys[:MAX_LISTED_KEYS])


@dataclass(frozen=True)
class CheckIn:
    """What the door shows: where the candidate goes (`checked_in`), or that a supervisor will see them."""

    outcome: str  # checked_in | see_supervisor
    candidate: str | None = None
    name: str | None = None
    number: str | None = None
    room: str | None = None
    seat: str | None = None
    reason: str | None = None  # see_supervisor: why, in words the page translates
    sent: bool = False  # the session went to the seat's device


def _holder(store: Store, read: CardReadRow, site: str, room: str | None, zone: str) -> ExamCandidate | None:
    day = f"{_today(zone):%Y-%m-%d}"
    return next((c for c in store.candidates.day(site, day)
                 if c.personal_hash == read.card_hash and (room is None or c.room == room)), None)


def _record(store: Store, candidate: ExamCandidate, actor: str, action: str, **changes) -> ExamCandidate:
    with store.db.transaction() as tx:
        current = store.candidates.for_update(tx, candidate.id) or candidate
        updated = replace(current, **changes)
        store.candidates.replace(tx, updated)
        tx.audit(actor, action, candidate.id, {"number": candidate.number, "room": candidate.room,
                                               **(changes.get("checkin_detail") or {})})
    return updated


def check_in(store: Store, secrets: GatewaySecrets, settings: KioskSettings, device_id: str, read_id: str,
             agree: bool | None, user: str, zone: str, publish: Publish | None,
             signing_key: DeviceKey | None, photo_template: PhotoTemplate | None = None) -> CheckIn:
    """The door's decision on read `read_id`, with the candidate's answer to the exam notice (`agree`; None where
    the exam rules are the basis). The read is closed in every case. `photo_template`: how the gateway embeds a
    list's photo (without it, a candidate whose list carries one goes to a supervisor)."""
    setup = kiosk_setup(store, device_id, zone)
    if setup.mode != "checkin":
        raise Invalid("kiosk {device} is not set up as an exam room's door", device=device_id)
    read = get_read(store, device_id, read_id)
    actor = f"user:{user}"
    if setup.basis == "consent" and agree is None:
        raise Invalid("the candidate's answer to the exam notice is needed")
    candidate = _holder(store, read, setup.site, setup.room, zone) if read.card_hash else None
    problem = may_enrol(read, settings)
    photo = None
    if candidate is not None and problem is None and agree is not False:
        problem, photo = _against_list_photo(store, read, candidate, settings, photo_template)
    if candidate is None or problem or agree is False:
        reason = "not_listed" if problem is None and candidate is None and agree is not False else \
            "face_refused" if agree is False else problem
        close_read(store, read, actor, "see_supervisor")
        if candidate is not None:
            _record(store, candidate, actor, "exam.checkin.failed",
                    checkin_detail={"reason": reason, "read": read.id, "passive": read.passive, "photo": photo})
        return CheckIn("see_supervisor", candidate.id if candidate else None, candidate.name if candidate else None,
                       candidate.number if candidate else None, candidate.room if candidate else None,
                       reason=reason)
    check = FaceCheck.of(read, settings)
    detail = {"read": read.id, "door": device_id, "passive": read.passive, "cosine": check.cosine,
              "threshold": check.threshold, "liveness": read.liveness, "basis": setup.basis, "photo": photo}
    subject = _template_for_the_day(store, secrets, read, candidate, setup.basis, zone, actor, detail)
    if subject is None:  # the face is enrolled already, under another card: a supervisor sees to it
        close_read(store, read, actor, "see_supervisor")
        _record(store, candidate, actor, "exam.checkin.failed",
                checkin_detail={"reason": "face_elsewhere", "read": read.id, "passive": read.passive})
        return CheckIn("see_supervisor", candidate.id, candidate.name, candidate.number, candidate.room,
                       reason="face_elsewhere")
    close_read(store, read, actor, "checked_in", subject)
    candidate = _record(store, candidate, actor, "exam.checked_in", checked_in_at=utc_text(datetime.now(timezone.utc)),
                        checkin_method="chip", basis=setup.basis, checkin_detail=detail)
    return _send_session(store, candidate, subject, publish, signing_key, actor)


def _against_list_photo(store: Store, read: CardReadRow, candidate: ExamCandidate, settings: KioskSettings,
                        photo_template: PhotoTemplate | None) -> tuple[str | None, float | None]:
    """(why not, the cosine) of the live face against the list's photo of the candidate; (None, None) without one."""
    photo = store.candidates.photo(candidate.id)
    if photo is None:
        return None, None
    if photo_template is None or read.pack is None:
        return "photo_unusable", None
    template = photo_template(photo, read.pack)
    if isinstance(template, str):
        return "photo_unusable", None
    check = FaceCheck.of(read, settings, template.embedding.astype(np.float32).tobytes())
    return (None if check.matched else "photo_not_matched"), check.cosine


def _template_for_the_day(store: Store, secrets: GatewaySecrets, read: CardReadRow, candidate: ExamCandidate,
                          basis: str, zone: str, actor: str, detail: dict) -> str | None:
    """The subject the seat's device checks against: the card's holder if already enrolled (an exam consent for
    today added), else the candidate, enrolled from the chip's portrait and today's face, until midnight; None if
    that face is enrolled already as someone else (the enrolment's duplicate check refused it)."""
    ends = ticket_end(0, zone)  # 23:59 today on the centre's clock: a template made at the door lasts the day
    holder = store.people.subject_by_card(read.card_hash) if read.card_hash else None
    if holder:
        extend_consent(store, replace(read, purpose="exam", valid_until=ends), holder, NOTICE_VERSION, actor,
                       detail)
        return holder
    fused = np.frombuffer(read.chip_template, dtype=np.float32) + np.frombuffer(read.live_template, dtype=np.float32)
    fused = fused / max(float(np.linalg.norm(fused)), 1e-12)
    request = EnrolmentRequest(source=f"door {read.device}", subject=candidate.id, display_name=candidate.name,
                               id_card_hash=read.card_hash, purpose="exam", sites=[candidate.site],
                               notice_version=NOTICE_VERSION if basis == "consent" else "exam-rules",
                               channel="kiosk", expires_at=ends)
    enroller = Enroller(store, secrets, {}, QualitySettings(), actor=actor)
    result = enroller.enrol_templates(request, {read.pack: Template(fused, read.chip_quality or 1.0)}, detail)
    return result.subject if result.enrolled else None


def _send_session(store: Store, candidate: ExamCandidate, subject: str, publish: Publish | None,
                  signing_key: DeviceKey | None, actor: str) -> CheckIn:
    where = CheckIn("checked_in", candidate.id, candidate.name, candidate.number, candidate.room)
    session = store.exams.session(candidate.session) if candidate.session else None
    if session is None or session.ended_at or session.verdict:
        return replace(where, reason="not_scheduled")
    where = replace(where, room=session.room or candidate.room, seat=session.seat)
    if session.candidate != subject:  # the card's holder was enrolled before, under their own id
        with store.db.transaction() as tx:
            current = store.exams.session_for_update(tx, session.id)
            current.candidate = subject
            store.exams.save_session(tx, current, new=False)
            tx.audit(actor, "exam.session.candidate", session.id, {"list": candidate.id, "subject": subject})
    try:
        schedule.push(store, session.id, publish, signing_key, actor)
    except GatewayError as exc:  # checked in all the same: the supervisor starts the seat when it is free
        return replace(where, reason=exc.message)
    return replace(where, sent=True)


def check_in_by_hand(store: Store, candidate_id: str, reason: str, note: str, user: str) -> ExamCandidate:
    """A supervisor checks a candidate in without the face (they refused face processing, their card failed, the
    door is down): recorded with who, why and a note, audited. Their session is marked `manual`: the seat's
    device does not supervise it, the room's supervisor does, and a person gives its verdict."""
    candidate = store.candidates.get(candidate_id)
    if candidate is None:
        raise NotFound("no candidate {candidate}", candidate=candidate_id)
    if candidate.checked_in_at:
        raise Conflict("candidate {number} is already checked in", number=candidate.number)
    detail = {"reason": reason, "note": note, "by": user}
    with store.db.transaction() as tx:
        updated = replace(store.candidates.for_update(tx, candidate.id) or candidate,
                          checked_in_at=utc_text(datetime.now(timezone.utc)), checkin_method="manual", basis=None,
                          checkin_detail=detail)
        store.candidates.replace(tx, updated)
        session = store.exams.session_for_update(tx, candidate.session) if candidate.session else None
        if session is not None and not session.ended_at and session.checkin == "pending":
            session.checkin, session.reason = "manual", note
            store.exams.save_session(tx, session, new=False)
        tx.audit(f"user:{user}", "exam.checked_in_by_hand", candidate.id,
                 {"number": candidate.number, "room": candidate.room, "session": candidate.session, **detail})
    return updated
