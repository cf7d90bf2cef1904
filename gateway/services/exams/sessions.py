"""Exam sessions: folding devices' exam events into the review view; sessions, reviews and verdicts by people.

Who may write what:
- only an exam device's events reach here (ingest refuses exam events from
  gate devices), and a session, with its flags and evidence, belongs to the
  device that first named it (a session created at the gateway belongs to the
  device it was sent to). Another device reusing its ids is refused
  (`Refused`), so one device cannot rewrite another's records;
- a flag is confirmed or dismissed, and a session's verdict set, by a person,
  with a note; the machine never decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.errors import Conflict, Invalid, NotFound, Unavailable
from gateway.storage import Device, Evidence, ExamFlag, ExamSession, Store, StoredEvent, Tx
from gateway.storage.schema import exam_evidence, exam_flags
from wire import DeviceKey, uuid7
from wire.commands import SESSION, SessionCommand, sign_command
from wire.events import utc_text
from wire.evidence import EvidenceError, open_evidence
from wire.topics import cmd_topic

TECHNICAL_FLAGS = {"technical", "camera_blocked"}
ABSENT = "absent"  # the note of a session closed with its day, its candidate never checked in
Publish = Callable[[str, bytes], bool]


class Refused(Exception):
    """An exam event that may not change the records it names; `reason` is counted by ingest."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _seconds_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b.replace("Z", "+00:00"))
            - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()


def _text(value: str | None) -> str | None:
    return utc_text(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else None


def _owner(tx: Tx, store: Store, session: str) -> str | None:
    """The device a session belongs to: its row's, or the one whose flags or evidence first named it."""
    found = store.exams.session_for_update(tx, session)
    if found is not None:
        return found.device
    for table in (exam_flags, exam_evidence):
        row = tx.execute(table.select().with_only_columns(table.c.device).where(table.c.session == session)
                         .limit(1)).first()
        if row:
            return row[0]
    return None


def project(store: Store, tx: Tx, event: StoredEvent, skew_limit_s: float) -> bool:
    """Fold one exam event into the sessions, flags and evidence, in `tx`; True when a session created at
    the gateway has just ended (its retained command can be cleared). Refused if the device may not."""
    body = json.loads(event.body)
    owner = _owner(tx, store, body["session"])
    if owner is not None and owner != event.device:
        raise Refused("foreign_session")
    if event.kind == "exam.session":
        return _session(store, tx, body, event, skew_limit_s)
    if event.kind == "exam.flag":
        _flag(store, tx, body, event)
    elif event.kind == "exam.evidence":
        _evidence(store, tx, body, event)
    return False


def _session(store: Store, tx: Tx, body: dict, event: StoredEvent, skew_limit_s: float) -> bool:
    skew = _seconds_between(event.captured_at, event.received_at)
    existing = store.exams.session_for_update(tx, body["session"])
    session = existing or ExamSession(id=body["session"], site=body["site"], device=body["device"],
                                      candidate=body["candidate"], exam_type=body["exam_type"], stage=body["stage"],
                                      seat=body.get("seat"), started_at=_text(body["started_at"]))
    session.started_at = _text(body["started_at"])
    session.ended_at = _text(body.get("ended_at"))
    session.checkin, session.checkin_score = body["checkin"], body.get("checkin_score")
    session.checkin_chip_score = body.get("checkin_chip_score")
    session.reason = body.get("reason", "")
    session.checks, session.checks_total = body.get("checks", []), body.get("checks_total", 0)
    session.flags, session.evidence = body.get("flags", []), body.get("evidence", [])
    session.updated_at = event.received_at
    session.clock_skew_s = max(session.clock_skew_s or 0.0, abs(skew))
    store.exams.save_session(tx, session, new=existing is None)
    if abs(skew) > skew_limit_s and store.exams.flag_for_update(tx, f"clock-{session.id}") is None:
        store.exams.save_flag(tx, ExamFlag(
            id=f"clock-{session.id}", session=session.id, device=event.device, kind="technical",
            start=event.received_at, end=event.received_at, duration_s=0.0, confidence=1.0, severity="low",
            detail=f"device clock differs from the gateway's by {skew:+.0f}s (both times kept)"), new=True)
    return bool(session.ended_at and session.created_by)


def _flag(store: Store, tx: Tx, body: dict, event: StoredEvent) -> None:
    existing = store.exams.flag_for_update(tx, body["flag"])
    if existing is not None and existing.device != event.device:
        raise Refused("foreign_flag")
    end = _text(body.get("end"))
    start = _text(body["start"])
    flag = existing or ExamFlag(id=body["flag"], session=body["session"], device=event.device, kind=body["flag_kind"],
                                start=start, end=end, duration_s=None, confidence=body["confidence"],
                                severity=body["severity"], detail=body.get("detail", ""))
    flag.end = end
    flag.duration_s = _seconds_between(start, end) if end else None
    flag.evidence = body.get("evidence", [])
    store.exams.save_flag(tx, flag, new=existing is None)


def _evidence(store: Store, tx: Tx, body: dict, event: StoredEvent) -> None:
    existing = store.exams.evidence_exists(tx, body["evidence"])
    if existing is not None:
        if existing.device != event.device:
            raise Refused("foreign_evidence")
        return  # a resend: the picture is already kept
    store.exams.add_evidence(tx, Evidence(body["evidence"], body["session"], event.device, body["what"],
                                          body["reason"], body["sha256"], body["nonce"], body["ciphertext"],
                                          event.received_at))


VERDICT_STATUS = {"clean": "clean", "incident": "confirmed incident", "technical": "technical problem",
                  "void": "void"}


def has_run(session: ExamSession, flags: list[ExamFlag]) -> bool:
    """Whether the device ever ran the session: a check-in, a check, a flag or an end."""
    return session.checkin != "pending" or bool(session.checks_total or session.checks or flags or session.ended_at)


def status(session: ExamSession, flags: list[ExamFlag]) -> str:
    """The traffic light. A person's verdict decides it; before one: `not started` for a session the device has
    not run (never clean), then confirmed incident > needs review > technical problem > clean."""
    if session.verdict:
        return VERDICT_STATUS.get(session.verdict, session.verdict)
    if not has_run(session, flags):
        return "not started"
    if any(f.review == "confirmed" for f in flags):
        return "confirmed incident"
    if session.checkin in ("failed", "presentation_attack") and not session.verdict:
        return "needs review"
    if any(f.review is None and f.kind not in TECHNICAL_FLAGS for f in flags):
        return "needs review"
    if any(f.review is None for f in flags) or session.checkin == "refused":
        return "technical problem"
    return "clean"


def create_session(store: Store, device_id: str, candidate: str, exam_type: str, stage: str, seat: str | None,
                   user: str, publish: Publish | None, signing_key: DeviceKey | None) -> ExamSession:
    """A session for a candidate, pushed signed to the exam device (retained until it has run)."""
    device: Device | None = store.devices.get(device_id)
    if device is None or device.kind != "exam" or not device.active:
        raise Invalid("{device} is not an active exam device", device=device_id)
    now = utc_text(datetime.now(timezone.utc))
    if candidate not in store.people.members(device.site, "exam", device.model_pack, now):
        raise Invalid("candidate {candidate} has no live exam consent (with a template) for site {site}: "
                      "the session is refused", candidate=candidate, site=device.site)
    if publish is None or signing_key is None:
        raise Unavailable("this gateway is not connected to the broker")
    for other in store.exams.open_sessions(candidate, device.id):  # one open session per candidate, per device
        if other.candidate == candidate:
            raise Conflict("candidate {candidate} already has a session that has not ended ({session} on {device}): "
                           "cancel it, let it end or give it a verdict first", candidate=candidate, session=other.id,
                           device=other.device)
        raise Conflict("device {device} already has a session that has not ended ({session}, candidate {candidate}): "
                       "cancel it, let it end or give it a verdict first", device=device.id, session=other.id,
                       candidate=other.candidate)
    session = ExamSession(id=str(uuid7()), site=device.site, device=device.id, candidate=candidate,
                          exam_type=exam_type, stage=stage, seat=seat, started_at=now, updated_at=now,
                          created_by=f"user:{user}", pushed_at=now)
    command = SessionCommand(session=session.id, device=device.id, candidate=candidate, exam_type=exam_type,
                             stage=stage, seat=seat, created_by=user)
    if not publish(cmd_topic(device.site, device.id, SESSION), sign_command(command, signing_key)):
        raise Unavailable("the broker did not take the session; try again")
    with store.db.transaction() as tx:
        store.exams.save_session(tx, session, new=True)
        tx.audit(f"user:{user}", "exam.session.created", session.id, {"device": device.id, "candidate": candidate})
    return session


def cancel_session(store: Store, session_id: str, note: str, user: str, publish: Publish | None) -> ExamSession:
    """Cancel a session its device has not run: its command is withdrawn from the broker (the device will not run
    it) and it is closed as void, with the reason (audited). Conflict for one that has run: it ends at the device,
    or takes a verdict."""
    with store.db.transaction() as tx:
        session = store.exams.session_for_update(tx, session_id)
        if session is None:
            raise NotFound("no exam session {session}", session=session_id)
        if session.ended_at or session.verdict or has_run(session, store.exams.flags(session_id)):
            raise Conflict("session {session} has run or is closed: give it a verdict instead", session=session_id)
        if publish is None or not publish(cmd_topic(session.site, session.device, SESSION), b""):
            raise Unavailable("the broker did not take the withdrawal; the session was not cancelled")
        session.ended_at = tx.now
        session.verdict, session.verdict_note, session.verdict_by, session.verdict_at = "void", note, user, tx.now
        store.exams.save_session(tx, session, new=False)
        tx.audit(f"user:{user}", "exam.session.cancelled", session_id, {"device": session.device, "note": note})
    return session


def review_flag(store: Store, flag_id: str, decision: str, note: str, user: str) -> ExamFlag:
    with store.db.transaction() as tx:
        flag = store.exams.flag_for_update(tx, flag_id)
        if flag is None:
            raise NotFound("no flag {flag}", flag=flag_id)
        amended = flag.review is not None
        if amended:  # a correction: what was said before stays, with who said it and when
            flag.review_history.append({"decision": flag.review, "note": flag.review_note, "by": flag.reviewed_by,
                                        "at": flag.reviewed_at})
        flag.review, flag.review_note, flag.reviewed_by, flag.reviewed_at = decision, note, user, tx.now
        store.exams.save_flag(tx, flag, new=False)
        # The session is the target: what an auditor follows (everything about a session, its flags' reviews with
        # it); which flag, and of what kind, is in the detail.
        tx.audit(f"user:{user}", f"exam.flag.{decision}", flag.session,
                 {"flag": flag_id, "kind": flag.kind, "note": note, "amended": amended})
    return flag


def set_verdict(store: Store, session_id: str, verdict: str, note: str, user: str) -> ExamSession:
    with store.db.transaction() as tx:
        session = store.exams.session_for_update(tx, session_id)
        if session is None:
            raise NotFound("no exam session {session}", session=session_id)
        amended = session.verdict is not None
        if amended:
            session.verdict_history.append({"verdict": session.verdict, "note": session.verdict_note,
                                            "by": session.verdict_by, "at": session.verdict_at})
        session.verdict, session.verdict_note, session.verdict_by, session.verdict_at = verdict, note, user, tx.now
        store.exams.save_session(tx, session, new=False)
        tx.audit(f"user:{user}", "exam.verdict", session_id, {"verdict": verdict, "note": note, "amended": amended})
    return session


def evidence_image(store: Store, row: Evidence) -> bytes:
    """The evidence JPEG, decrypted with its device's key and checked against the SHA-256 the device signed;
    Conflict if it does not decrypt or match (tampered with, or the device's key is gone)."""
    device = store.devices.get(row.device)
    try:
        return open_evidence(device.gallery_key if device else None, row.device, row.id, row.nonce, row.ciphertext,
                             row.sha256)
    except EvidenceError as exc:
        raise Conflict(str(exc)) from None
