"""The exam day at a test centre (supervisors and admins): the council's candidate list imported from its file
(XLSX or CSV), the day scheduled onto the rooms' seat devices, a candidate moved or checked in by hand, the
candidates with their status for the room's grid, the day closed, and its report for the council (XLSX, PDF). A
file with problems is refused whole, each problem by row and field in the asker's language (422 with `problems`);
the personal number never leaves the gateway, not even as its hash."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import EXAM_ROLES, GatewayDep, actor, require
from gateway.api.templates import html_to_pdf, reader_language, render_text
from gateway.errors import Invalid
from gateway.i18n import catalogue
from gateway.services.events.local_time import local_text, utc_offset
from gateway.services.exams import schedule
from gateway.services.exams.candidates import MAX_BYTES, import_candidates, parse_candidates
from gateway.services.exams.checkin import check_in_by_hand
from gateway.services.exams.day import REPORT_COLUMNS, DayRow, day_rows, report_lines, workbook
from gateway.storage import Session
from wire.events import utc_text
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/exam/candidates", tags=["exam day"])
Reviewer = Annotated[Session, Depends(require(*EXAM_ROLES))]


class ListIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)  # the test centre
    filename: str = Field(min_length=1, max_length=200)  # .xlsx, or .csv
    content: str = Field(max_length=MAX_BYTES * 4 // 3 + 4)  # the file, base64


class ImportOut(BaseModel):
    rows: int
    added: int
    updated: int
    unchanged: int
    dates: list[str]


class CandidateOut(BaseModel):
    id: str
    number: str
    name: str
    licence_class: str
    parts: list[str]
    exam_date: str
    slot: str
    room: str
    seat: str | None  # scheduled: the seat ...
    device: str | None  # ... and its device
    session: str | None
    status: Literal["waiting", "checked in", "in progress", "flagged", "finished", "cancelled", "absent"]
    flag_kinds: list[str]  # the flags nobody has dismissed
    checked_in_at: str | None
    checkin_method: Literal["chip", "manual"] | None
    checkin_problem: str | None  # the door's last refusal (not_listed, face_refused, not_matched, ...)


class DayIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    day: date


class ScheduleIn(DayIn):
    room: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None


class ClosedOut(BaseModel):
    absent: int  # sessions never run, of candidates never checked in: closed as void
    keys_forgotten: int


class ScheduleOut(BaseModel):
    scheduled: int
    already: int


class MoveIn(BaseModel):
    device: str = Field(pattern=ID_PATTERN.pattern)
    slot: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = None


class ByHandIn(BaseModel):
    reason: Literal["face_refused", "card_failed", "face_failed", "door_down", "other"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CandidateId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]


def _out(row: DayRow) -> CandidateOut:
    c, s = row.candidate, row.session
    detail = c.checkin_detail or {}
    return CandidateOut(id=c.id, number=c.number, name=c.name, licence_class=c.licence_class, parts=list(c.parts),
                        exam_date=c.exam_date, slot=c.slot, room=c.room, seat=s.seat if s else None,
                        device=s.device if s else None, session=s.id if s else None, status=row.status,
                        flag_kinds=row.flag_kinds, checked_in_at=c.checked_in_at, checkin_method=c.checkin_method,
                        checkin_problem=None if c.checked_in_at else detail.get("reason"))


def _row(gw, candidate_id: str) -> CandidateOut:
    found = gw.store.candidates.get(candidate_id)
    rows = day_rows(gw.store, found.site, found.exam_date, found.room)  # the candidate's room, not the whole day
    return next(_out(r) for r in rows if r.candidate.id == candidate_id)


@router.post("/import", response_model=ImportOut)
def import_list(body: ListIn, gw: GatewayDep, session: Reviewer) -> ImportOut:
    """Import the council's list for test centre `site`: every row checked first (422 with each problem by row
    and field, nothing written), then each candidate added or updated by number and date (audited)."""
    try:
        data = base64.b64decode(body.content, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("the file did not arrive whole (not base64)") from None
    rows = parse_candidates(data, body.filename)
    done = import_candidates(gw.store, gw.secrets, body.site, rows, actor(session))
    return ImportOut(rows=done.rows, added=done.added, updated=done.updated, unchanged=done.unchanged,
                     dates=list(done.dates))


@router.get("", response_model=list[CandidateOut])
def day_list(gw: GatewayDep, session: Reviewer, site: Annotated[str, Query(pattern=ID_PATTERN.pattern)],
             day: date, room: Annotated[str | None, Query(max_length=40)] = None) -> list[CandidateOut]:
    """Test centre `site`'s candidates on `day` (one room, or all), by room, slot and number, each with their seat
    and where they stand: the room's grid."""
    return [_out(r) for r in day_rows(gw.store, site, f"{day:%Y-%m-%d}", room)]


def _report(gw, request: Request, session: Session, site: str, day: date, form: str) -> tuple[list[dict], dict]:
    """The day's report lines in the reader's language, and what its heading needs (audited as read)."""
    zone, language = gw.config.time_zone, reader_language(request, session, accept_language=True)
    words = catalogue(language)
    rows = day_rows(gw.store, site, f"{day:%Y-%m-%d}")
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.day_report.read", site, {"day": f"{day:%Y-%m-%d}", "format": form,
                                                                  "candidates": len(rows)})
    centre = next((s.name for s in gw.store.people.sites() if s.id == site), site)
    lines = report_lines(rows, words, lambda value: local_text(value, zone))
    return lines, {"language": language, "words": words, "centre": centre, "day": f"{day:%d/%m/%Y}",
                   "offset": utc_offset(zone)}


@router.get("/report.xlsx", response_class=Response,
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def report_xlsx(request: Request, gw: GatewayDep, session: Reviewer,
                site: Annotated[str, Query(pattern=ID_PATTERN.pattern)], day: date) -> Response:
    """The day's report for the exam council as XLSX: per candidate the check-in (time, how, what it found), the
    session's times, the flags with their reviews and the verdict; in the reader's language."""
    lines, head = _report(gw, request, session, site, day, "xlsx")
    title = head["words"].gettext("{centre}, {day}: record of the exam day", centre=head["centre"], day=head["day"])
    return Response(workbook(lines, head["words"], title), media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="exam-day-{site}-{day:%Y-%m-%d}.xlsx"',
        "Cache-Control": "no-store"})


@router.get("/report.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(request: Request, gw: GatewayDep, session: Reviewer,
               site: Annotated[str, Query(pattern=ID_PATTERN.pattern)], day: date) -> Response:
    """The same report as an A4 PDF record: the national heading, the centre's name, page numbers, and the
    signatures kept with the last rows."""
    lines, head = _report(gw, request, session, site, day, "pdf")
    html = render_text("day_report.html", head["language"], lines=lines, columns=REPORT_COLUMNS,
                       centre_name=head["centre"], day=head["day"], utc_offset=head["offset"],
                       title=head["words"].gettext("Record of the exam day"), printed_by=session.user.name,
                       printed_at=local_text(utc_text(datetime.now(timezone.utc)), gw.config.time_zone))
    return Response(html_to_pdf(html), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="exam-day-{site}-{day:%Y-%m-%d}.pdf"',
        "Cache-Control": "no-store"})


@router.post("/schedule", response_model=ScheduleOut)
def schedule_day(body: ScheduleIn, gw: GatewayDep, session: Reviewer) -> ScheduleOut:
    """Seat the day's candidates without a session on their room's devices in seat order, by slot (422 naming each
    room and slot that lacks seats; nothing written then). Audited."""
    done = schedule.schedule_day(gw.store, body.site, f"{body.day:%Y-%m-%d}", session.user.name,
                                 gw.config.time_zone, body.room)
    return ScheduleOut(scheduled=done.scheduled, already=done.already)


@router.post("/close", response_model=ClosedOut)
def close_day(body: DayIn, gw: GatewayDep, session: Reviewer) -> ClosedOut:
    """Close the day: sessions never run, of candidates never checked in, closed as void (absent); the day's chip
    access keys forgotten now. Sessions that ran keep waiting for their verdicts. Audited."""
    done = schedule.close_day(gw.store, body.site, f"{body.day:%Y-%m-%d}", session.user.name, gw.config.time_zone)
    return ClosedOut(absent=done.absent, keys_forgotten=done.keys_forgotten)


@router.post("/{candidate}/move", response_model=CandidateOut)
def move(candidate: CandidateId, body: MoveIn, gw: GatewayDep, session: Reviewer) -> CandidateOut:
    """Seat a candidate by hand on another device or slot (a session that has run cannot move). Audited."""
    schedule.move(gw.store, candidate, body.device, body.slot, session.user.name, gw.config.time_zone, gw.publish,
                  gw.secrets.signing_key if gw.publish else None)
    return _row(gw, candidate)


@router.post("/{candidate}/checkin", response_model=CandidateOut)
def check_in(candidate: CandidateId, body: ByHandIn, gw: GatewayDep, session: Reviewer) -> CandidateOut:
    """Check a candidate in by hand, without the face (they refused face processing, the card failed, ...): who,
    why and a note are recorded and audited; a person supervises their session."""
    check_in_by_hand(gw.store, candidate, body.reason, body.note, session.user.name)
    return _row(gw, candidate)
