"""Supervisor review of exam sessions (roles supervisor and admin): sessions, timelines, evidence, decisions.

A flag is confirmed or dismissed by a person, with a note; a session's verdict
is set by a person, never by the machine. Every read of evidence and every
decision is in the audit log.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import EXAM_ROLES, GatewayDep, actor, require
from gateway.services import exams
from gateway.storage import ExamFlag, ExamSession, Session
from wire.events import utc_text
from wire.evidence import EvidenceError, open_evidence

router = APIRouter(prefix="/api/exam", tags=["exam review"])
Reviewer = Annotated[Session, Depends(require(*EXAM_ROLES))]
Status = Literal["clean", "needs review", "confirmed incident", "technical problem"]
Id = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]
# A person's reason, in words: surrounding spaces are not kept, and a note of only spaces is no note.
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# The report has no script at all; its one style block is inline.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


class ReviewIn(BaseModel):
    decision: Literal["confirmed", "dismissed"]
    note: Note


class SessionIn(BaseModel):
    device: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    candidate: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    exam_type: str = Field("theory", max_length=40)
    stage: str = Field("theory", max_length=40)
    seat: str | None = Field(None, max_length=40)


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
        raise HTTPException(404, "no such exam session")
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
                  day: Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")] = None,
                  status: Status | None = None) -> list[dict]:
    """Sessions by centre and day, with flag counts and the traffic-light status."""
    start = utc_text(datetime(day.year, day.month, day.day, tzinfo=timezone.utc)) if day else None
    end = utc_text(datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)) if day else None
    sessions = gw.store.exams.sessions(site, start, end)
    flags_by_session: dict[str, list[ExamFlag]] = {}
    for f in gw.store.exams.flags(sessions=[s.id for s in sessions]) if sessions else []:
        flags_by_session.setdefault(f.session, []).append(f)
    rows = [_view(s, flags_by_session.get(s.id, [])) for s in sessions]
    rows = [r for r in rows if status is None or r["status"] == status]
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.sessions.read", site, {"day": str(day) if day else None, "returned": len(rows)})
    return [{k: r[k] for k in ("id", "site", "device", "candidate", "exam_type", "stage", "seat", "started_at",
                               "ended_at", "checkin", "status", "flag_counts", "verdict")} for r in rows]


@router.get("/sessions/{session_id}")
def get_session(session_id: Id, gw: GatewayDep, session: Reviewer) -> dict:
    """A session's timeline: checks, flags (with their reviews) and evidence."""
    found, flags = _session_or_404(gw, session_id)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.session.read", session_id)
    return _view(found, flags) | {"flag_list": [f.__dict__ for f in flags],
                                      "evidence_list": [e.api() for e in gw.store.exams.evidence_of(session_id)]}


@router.get("/evidence/{evidence}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_evidence(evidence: Id, gw: GatewayDep, session: Reviewer) -> Response:
    """The evidence JPEG, decrypted and checked against the SHA-256 the device signed."""
    row = gw.store.exams.evidence(evidence)
    if row is None:
        raise HTTPException(404, "no such evidence")
    device = gw.store.devices.get(row.device)
    try:
        jpeg = open_evidence(device.gallery_key if device else None, row.device, row.id, row.nonce, row.ciphertext,
                             row.sha256)
    except EvidenceError as exc:
        raise HTTPException(409, str(exc)) from None
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.evidence.read", evidence, {"session": row.session})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/flags/{flag}/review")
def review_flag(flag: Id, body: ReviewIn, gw: GatewayDep, session: Reviewer) -> dict:
    """Confirm or dismiss a flag, with a note; who and when are recorded (and audited)."""
    return exams.review_flag(gw.store, flag, body.decision, body.note, session.user.name).__dict__


@router.post("/sessions/{session_id}/verdict")
def set_verdict(session_id: Id, body: VerdictIn, gw: GatewayDep, session: Reviewer) -> dict:
    """The session's verdict, set by a person."""
    exams.set_verdict(gw.store, session_id, body.verdict, body.note, session.user.name)
    return _view(*_session_or_404(gw, session_id))


@router.get("/sessions/{session_id}/report", response_class=HTMLResponse)
def report(session_id: Id, gw: GatewayDep, session: Reviewer) -> HTMLResponse:
    """A printable incident report (print it from the browser)."""
    found, flags = _session_or_404(gw, session_id)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "exam.report.read", session_id)
    return HTMLResponse(render_report(_view(found, flags), [f.__dict__ for f in flags], session.user.name),
                        headers={"Content-Security-Policy": REPORT_CSP})


def _flag_row(f: dict) -> str:
    e = html.escape
    duration = "" if f["duration_s"] is None else f"{f['duration_s']:.0f} s"
    return (f"<tr><td>{e(f['kind'])}</td><td>{e(f['start'])}</td><td>{e(f['end'] or 'open')}</td><td>{duration}</td>"
            f"<td>{e(f['severity'])}</td><td>{e(f['review'] or 'not reviewed')}</td>"
            f"<td>{e(f['review_note'] or '')}</td><td>{e(f['reviewed_by'] or '')} {e(f['reviewed_at'] or '')}</td></tr>")


def render_report(s: dict, flags: list[dict], printed_by: str) -> str:
    """The printable report. Every value goes through `e`, numbers too: they came from a device."""
    e = html.escape
    rows = "".join(_flag_row(f) for f in flags)
    checks = "".join(f"<tr><td>{e(c['at'])}</td><td>{e(c['reason'])}</td><td>{e(str(c['score']))}</td>"
                     f"<td>{'pass' if c['passed'] else 'FAIL'}</td></tr>" for c in s["checks"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Exam session {e(s['id'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 6px;text-align:left}}h1{{font-size:20px}}.status{{font-weight:bold}}
@media print{{a{{display:none}}}}</style></head><body>
<h1>Exam session report</h1>
<p>Session <b>{e(s['id'])}</b> at site {e(s['site'])}, device {e(s['device'])}<br>
Candidate <b>{e(s['candidate'])}</b>, {e(s['exam_type'])} / {e(s['stage'])}, seat {e(s['seat'] or '-')}<br>
Started {e(s['started_at'])}, ended {e(s['ended_at'] or 'not yet')}<br>
Check-in: <b>{e(s['checkin'])}</b> (score {e(str(s['checkin_score']))}) {e(s['reason'] or '')}<br>
Status: <span class="status">{e(s['status'])}</span>; verdict by a person:
<b>{e(s['verdict'] or 'none yet')}</b> {e(s['verdict_note'] or '')} {e(s['verdict_by'] or '')} {e(s['verdict_at'] or '')}</p>
<h2>Flags</h2><table><tr><th>flag</th><th>start</th><th>end</th><th>duration</th><th>severity</th><th>review</th>
<th>note</th><th>by / when</th></tr>{rows or '<tr><td colspan="8">none</td></tr>'}</table>
<h2>Checks ({e(str(s['checks_total']))} in all; the newest shown)</h2><table><tr><th>time</th><th>why</th><th>1:1 score</th>
<th>result</th></tr>{checks}</table>
<p>Printed by {e(printed_by)} at {e(_now())}. Evidence images are in the review system (audited access).</p>
</body></html>"""
