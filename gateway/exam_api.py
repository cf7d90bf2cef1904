"""Supervisor review of exam sessions (roles supervisor and admin): sessions, timelines, evidence, decisions.

A flag is confirmed or dismissed by a person, with a note; a session's verdict
is set by a person, never by the machine. Every read of evidence and every
decision is in the audit log.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from gateway.audit import AuditEntry
from gateway.auth import require
from gateway.storage import Storage, User
from wire import DeviceKey, uuid7
from wire.commands import SESSION, SessionCommand, sign_command
from wire.events import utc_text
from wire.topics import cmd_topic
from wire.evidence import EvidenceError, open_evidence

REVIEWERS = ("admin", "supervisor")
Publish = Callable[[str, bytes], bool]
Status = Literal["clean", "needs review", "confirmed incident", "technical problem"]
Id = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]


class ReviewIn(BaseModel):
    decision: Literal["confirmed", "dismissed"]
    note: str = Field(min_length=1, max_length=2000)


class SessionIn(BaseModel):
    device: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    candidate: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    exam_type: str = Field("theory", max_length=40)
    stage: str = Field("theory", max_length=40)
    seat: str | None = Field(None, max_length=40)


class VerdictIn(BaseModel):
    verdict: Literal["clean", "incident", "technical", "void"]
    note: str = Field(min_length=1, max_length=2000)


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def add_exam_routes(app: FastAPI, storage: Storage, publish: Publish | None = None,
                    signing_key: DeviceKey | None = None) -> None:
    """Register the review routes on the app (directly, so the route-role test sees every one).

    `publish(topic, payload)` (True once the broker has it) and the gateway's key send sessions to devices.
    """
    tags = ["exam review"]

    @app.post("/api/exam/sessions", status_code=201, tags=tags)
    def create_session(body: SessionIn, user: User = Depends(require(*REVIEWERS))) -> dict:
        """Create a session for a candidate and push it to the exam device (retained until it has run)."""
        device = storage.device(body.device)
        if device is None or device.kind != "exam" or device.status != "active":
            raise HTTPException(422, f"{body.device} is not an active exam device")
        now = _now()
        pack, _ = storage.device_secrets(device.id)
        if body.candidate not in storage.gallery_members(device.site, "exam", pack, now):
            raise HTTPException(422, f"candidate {body.candidate} has no live exam consent (with a template) for "
                                     f"site {device.site}: the session is refused")
        if publish is None or signing_key is None:
            raise HTTPException(503, "this gateway is not connected to the broker")
        session = str(uuid7())
        command = SessionCommand(session=session, device=device.id, candidate=body.candidate,
                                 exam_type=body.exam_type, stage=body.stage, seat=body.seat, created_by=user.name)
        if not publish(cmd_topic(device.site, device.id, SESSION), sign_command(command, signing_key)):
            raise HTTPException(503, "the broker did not take the session; try again")
        storage.create_exam_session(session, device.site, device.id, body.candidate, body.exam_type, body.stage,
                                    body.seat, now, f"user:{user.name}")
        return {"session": session, "device": device.id, "candidate": body.candidate}

    def session_or_404(session: str) -> dict:
        found = storage.exam_session(session)
        if found is None:
            raise HTTPException(404, f"no exam session {session}")
        return found

    @app.get("/api/exam/sessions", tags=tags)
    def list_sessions(user: User = Depends(require(*REVIEWERS)),
                      site: Annotated[str | None, Query(max_length=64)] = None,
                      day: Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")] = None,
                      status: Status | None = None) -> list[dict]:
        """Sessions by centre and day, with flag counts and the traffic-light status."""
        rows = storage.exam_sessions(site, day.isoformat() if day else None)
        rows = [r for r in rows if status is None or r["status"] == status]
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "exam.sessions.read", site,
                                        {"day": str(day) if day else None, "returned": len(rows)}))
        return [{k: r[k] for k in ("id", "site", "device", "candidate", "exam_type", "stage", "seat", "started_at",
                                   "ended_at", "checkin", "status", "flag_counts", "verdict")} for r in rows]

    @app.get("/api/exam/sessions/{session}", tags=tags)
    def get_session(session: Id, user: User = Depends(require(*REVIEWERS))) -> dict:
        """A session's timeline: checks, flags (with their reviews) and evidence."""
        found = session_or_404(session)
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "exam.session.read", session, {}))
        return found | {"flag_list": storage.exam_flags(session), "evidence_list": storage.exam_evidence(session)}

    @app.get("/api/exam/evidence/{evidence}", response_class=Response, tags=tags,
                responses={200: {"content": {"image/jpeg": {}}}})
    def get_evidence(evidence: Id, user: User = Depends(require(*REVIEWERS))) -> Response:
        """The evidence JPEG, decrypted and checked against the SHA-256 the device signed."""
        rows = storage.exam_evidence(evidence=evidence)
        if not rows:
            raise HTTPException(404, f"no evidence {evidence}")
        row = rows[0]
        _, key = storage.device_secrets(row["device"])
        try:
            jpeg = open_evidence(key, row["device"], row["id"], row["nonce"], row["ciphertext"], row["sha256"])
        except EvidenceError as exc:
            raise HTTPException(409, str(exc)) from None
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "exam.evidence.read", evidence,
                                        {"session": row["session"]}))
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.post("/api/exam/flags/{flag}/review", tags=tags)
    def review_flag(flag: Id, body: ReviewIn, user: User = Depends(require(*REVIEWERS))) -> dict:
        """Confirm or dismiss a flag, with a note; who and when are recorded (and audited)."""
        now = _now()
        if not storage.review_flag(flag, body.decision, body.note, user.name, now):
            raise HTTPException(404, f"no flag {flag}")
        return storage.exam_flag(flag)

    @app.post("/api/exam/sessions/{session}/verdict", tags=tags)
    def set_verdict(session: Id, body: VerdictIn, user: User = Depends(require(*REVIEWERS))) -> dict:
        """The session's verdict, set by a person."""
        session_or_404(session)
        storage.set_exam_verdict(session, body.verdict, body.note, user.name, _now())
        return session_or_404(session)

    @app.get("/api/exam/sessions/{session}/report", response_class=HTMLResponse, tags=tags)
    def report(session: Id, user: User = Depends(require(*REVIEWERS))) -> HTMLResponse:
        """A printable incident report (print it from the browser)."""
        s = session_or_404(session)
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "exam.report.read", session, {}))
        return HTMLResponse(render_report(s, storage.exam_flags(session), user.name))


def _flag_row(f: dict) -> str:
    e = html.escape
    duration = "" if f["duration_s"] is None else f"{f['duration_s']:.0f} s"
    return (f"<tr><td>{e(f['kind'])}</td><td>{e(f['start'])}</td><td>{e(f['end'] or 'open')}</td><td>{duration}</td>"
            f"<td>{e(f['severity'])}</td><td>{e(f['review'] or 'not reviewed')}</td>"
            f"<td>{e(f['review_note'] or '')}</td><td>{e(f['reviewed_by'] or '')} {e(f['reviewed_at'] or '')}</td></tr>")


def render_report(s: dict, flags: list[dict], printed_by: str) -> str:
    e = html.escape
    rows = "".join(_flag_row(f) for f in flags)
    checks = "".join(f"<tr><td>{e(c['at'])}</td><td>{e(c['reason'])}</td><td>{c['score']}</td>"
                     f"<td>{'pass' if c['passed'] else 'FAIL'}</td></tr>" for c in s["checks"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Exam session {e(s['id'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 6px;text-align:left}}h1{{font-size:20px}}.status{{font-weight:bold}}
@media print{{a{{display:none}}}}</style></head><body>
<h1>Exam session report</h1>
<p>Session <b>{e(s['id'])}</b> at site {e(s['site'])}, device {e(s['device'])}<br>
Candidate <b>{e(s['candidate'])}</b>, {e(s['exam_type'])} / {e(s['stage'])}, seat {e(s['seat'] or '-')}<br>
Started {e(s['started_at'])}, ended {e(s['ended_at'] or 'not yet')}<br>
Check-in: <b>{e(s['checkin'])}</b> (score {s['checkin_score']}) {e(s['reason'] or '')}<br>
Status: <span class="status">{e(s['status'])}</span>; verdict by a person:
<b>{e(s['verdict'] or 'none yet')}</b> {e(s['verdict_note'] or '')} {e(s['verdict_by'] or '')} {e(s['verdict_at'] or '')}</p>
<h2>Flags</h2><table><tr><th>flag</th><th>start</th><th>end</th><th>duration</th><th>severity</th><th>review</th>
<th>note</th><th>by / when</th></tr>{rows or '<tr><td colspan="8">none</td></tr>'}</table>
<h2>Checks ({s['checks_total']} in all; the newest shown)</h2><table><tr><th>time</th><th>why</th><th>1:1 score</th>
<th>result</th></tr>{checks}</table>
<p>Printed by {e(printed_by)} at {e(_now())}. Evidence images are in the review system (audited access).</p>
</body></html>"""
