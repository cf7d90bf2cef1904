"""Supervisor review of exam sessions (roles supervisor and admin): sessions, timelines, evidence, decisions.

A flag is confirmed or dismissed by a person, with a note; a session's verdict
is set by a person, never by the machine. Every read of evidence and every
decision is in the audit log.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import EXAM_ROLES, GatewayDep, actor, require
from gateway.api.templates import html_to_pdf, reader_language, render_text
from gateway.errors import Conflict
from gateway.i18n import N_, catalogue
from gateway.i18n.names import flag_detail, name_of
from gateway.services.exams import sessions as exams
from gateway.services.events.local_time import local_day, local_text, utc_offset
from gateway.storage import ExamFlag, ExamSession, Session
from wire.events import utc_text

router = APIRouter(prefix="/api/exam", tags=["exam review"])
Reviewer = Annotated[Session, Depends(require(*EXAM_ROLES))]
Status = Literal["not started", "clean", "needs review", "confirmed incident", "technical problem", "void"]
Id = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]
# A person's reason, in words: surrounding spaces are not kept, and a note of only spaces is no note.
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# The report has no script at all; its one style block is inline.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"


class ReviewIn(BaseModel):
    decision: Literal["confirmed", "dismissed"]
    note: Note


class SessionIn(BaseModel):
    device: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    candidate: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    exam_type: str = Field("theory", max_length=40)
    stage: str = Field("theory", max_length=40)
    seat: str | None = Field(None, max_length=40)


class CancelIn(BaseModel):
    note: Note  # why: the candidate is absent, moved to another slot ...


class VerdictIn(BaseModel):
    verdict: Literal["clean", "incident", "technical", "void"]
    note: Note


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def _view(session: ExamSession, flags: list[ExamFlag]) -> dict:
    counts: dict[str, int] = {}
    for f in flags:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return session.__dict__ | {"flag_counts": counts, "status": exams.status(session, flags)}


def _session_or_404(gw, session_id: str) -> tuple[ExamSession, list[ExamFlag]]:
    found = gw.store.exams.session(session_id)
    if found is None:
        raise HTTPException(404, N_("no such exam session"))
    return found, gw.store.exams.flags(session_id)


@router.post("/sessions", status_code=201)
def create_session(body: SessionIn, gw: GatewayDep, session: Reviewer) -> dict:
    """Create a session for a candidate and push it to the exam device (retained until it has run)."""
    created = exams.create_session(gw.store, body.device, body.candidate, body.exam_type, body.stage, body.seat,
                                   session.user.name, gw.publish, gw.secrets.signing_key if gw.publish else None)
    return {"session": created.id, "device": created.device, "candidate": created.candidate}


@router.get("/sessions")
def list_sessions(gw: GatewayDep, session: Reviewer,
                  site: Annotated[str | None, Query(max_length=64)] = None,
                  day: Annotated[date | None, Query(description="YYYY-MM-DD, the centre's local day")] = None,
                  status: Status | None = None) -> list[dict]:
    """Sessions by centre and day, with flag counts and the traffic-light status."""
    _, start, end = local_day(gw.config.time_zone, day) if day else (None, None, None)
    sessions = gw.store.exams.sessions(site, start, end)
    flags_by_session: dict[str, list[ExamFlag]] = {}
    for f in gw.store.exams.flags(sessions=[s.id for s in sessions]) if sessions else []:
        flags_by_session.setdefault(f.session, []).append(f)
    rows = [_view(s, flags_by_session.get(s.id, [])) for s in sessions]
    rows = [r for r in rows if status is None or r["status"] == status]
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.sessions.read", site, {"day": str(day) if day else None, "returned": len(rows)})
    names = {c: gw.store.people.display_name(c) for c in {r["candidate"] for r in rows}}
    return [{k: r[k] for k in ("id", "site", "device", "candidate", "exam_type", "stage", "seat", "started_at",
                               "ended_at", "checkin", "status", "flag_counts", "verdict")}
            | {"candidate_name": names[r["candidate"]] or r["candidate"]} for r in rows]


@router.get("/sessions/{session_id}")
def get_session(session_id: Id, gw: GatewayDep, session: Reviewer) -> dict:
    """A session's timeline: checks, flags (with their reviews) and evidence."""
    found, flags = _session_or_404(gw, session_id)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.session.read", session_id)
    return _view(found, flags) | {"candidate_name": gw.store.people.display_name(found.candidate),
                                  "flag_list": [f.__dict__ for f in flags],
                                      "evidence_list": [e.api() for e in gw.store.exams.evidence_of(session_id)]}


@router.get("/evidence/{evidence}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_evidence(evidence: Id, gw: GatewayDep, session: Reviewer) -> Response:
    """The evidence JPEG, decrypted and checked against the SHA-256 the device signed."""
    row = gw.store.exams.evidence(evidence)
    if row is None:
        raise HTTPException(404, N_("no such evidence"))
    jpeg = exams.evidence_image(gw.store, row)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.evidence.read", evidence, {"session": row.session})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/flags/{flag}/review")
def review_flag(flag: Id, body: ReviewIn, gw: GatewayDep, session: Reviewer) -> dict:
    """Confirm or dismiss a flag, with a note; who and when are recorded (and audited)."""
    return exams.review_flag(gw.store, flag, body.decision, body.note, session.user.name).__dict__


@router.post("/sessions/{session_id}/cancel")
def cancel(session_id: Id, body: CancelIn, gw: GatewayDep, session: Reviewer) -> dict:
    """Cancel a session its device has not run, with the reason: its command is withdrawn, the session closed as
    void (audited); 409 for one that has run."""
    exams.cancel_session(gw.store, session_id, body.note, session.user.name, gw.publish)
    return _view(*_session_or_404(gw, session_id))


@router.post("/sessions/{session_id}/verdict")
def set_verdict(session_id: Id, body: VerdictIn, gw: GatewayDep, session: Reviewer) -> dict:
    """The session's verdict, set by a person."""
    exams.set_verdict(gw.store, session_id, body.verdict, body.note, session.user.name)
    return _view(*_session_or_404(gw, session_id))


@router.get("/sessions/{session_id}/report", response_class=HTMLResponse)
def report(session_id: Id, request: Request, gw: GatewayDep, session: Reviewer) -> HTMLResponse:
    """The session's report for the file and for print (A4): candidate, times on the centre's clock, flags with
    their reviews (and earlier ones), the evidence pictures, signature lines; in the reader's language."""
    return HTMLResponse(_report(session_id, request, gw, session, "html"),
                        headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/sessions/{session_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(session_id: Id, request: Request, gw: GatewayDep, session: Reviewer) -> Response:
    """The same report as an A4 PDF to download (rendered by WeasyPrint on the gateway)."""
    pdf = html_to_pdf(_report(session_id, request, gw, session, "pdf"))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="exam-report-{session_id}.pdf"', "Cache-Control": "no-store"})


def _report(session_id: str, request: Request, gw, session: Session, form: str) -> str:
    found, flags = _session_or_404(gw, session_id)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.report.read", session_id, {"format": form})
    zone, language = gw.config.time_zone, reader_language(request, session)
    words = catalogue(language)
    centre = next((s.name for s in gw.store.people.sites() if s.id == found.site), found.site)
    return render_text("report.html", language, s=_view(found, flags), flags=flags,
                       candidate_name=gw.store.people.display_name(found.candidate) or found.candidate,
                       centre_name=centre, pictures=_pictures(gw, session_id), printed_by=session.user.name,
                       printed_at=_now(), utc_offset=utc_offset(zone, found.started_at),
                       when=lambda value: local_text(value, zone), name=name_of,
                       detail=lambda text: flag_detail(text, words),
                       pdf_link=f"/api/exam/sessions/{session_id}/report.pdf" if form == "html" else None)


REPORT_PICTURES = 6  # per check-in, logout or flag: enough to judge, few enough to print


def _pictures(gw, session_id: str) -> dict[str, list[str]]:
    """The session's evidence as inline images (the report loads nothing), by reason: checkin, logout, flag id."""
    pictures: dict[str, list[str]] = {}
    for row in gw.store.exams.evidence_of(session_id):
        shown = pictures.setdefault(row.reason, [])
        if len(shown) < REPORT_PICTURES:
            try:
                shown.append("data:image/jpeg;base64," + base64.b64encode(exams.evidence_image(gw.store, row)).decode())
            except Conflict:  # does not decrypt or match what the device signed: left out, not shown as genuine
                continue
    return pictures
