"""Exam sessions, their flags and their encrypted evidence: the supervisors' review view of exam events."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from gateway.storage.schema import exam_evidence, exam_flags, exam_sessions

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx

_JSON_LISTS = ("checks", "flags", "evidence", "verdict_history")


@dataclass
class ExamSession:
    id: str
    site: str
    device: str
    candidate: str
    exam_type: str
    stage: str
    seat: str | None
    started_at: str
    ended_at: str | None = None
    checkin: str = "pending"
    checkin_score: float | None = None
    checkin_chip_score: float | None = None  # checked in with a chip ID card: the live face against its portrait
    reason: str | None = ""
    checks: list = field(default_factory=list)
    checks_total: int = 0
    flags: list = field(default_factory=list)
    evidence: list = field(default_factory=list)
    updated_at: str | None = None
    clock_skew_s: float | None = None
    verdict: str | None = None
    verdict_note: str | None = None
    verdict_by: str | None = None
    verdict_at: str | None = None
    created_by: str | None = None
    verdict_history: list = field(default_factory=list)  # earlier verdicts: {verdict, note, by, at}, oldest first
    room: str | None = None  # scheduled from the candidate list: its room ...
    pushed_at: str | None = None  # ... and when it went to its device (None: scheduled, not sent yet)

    def row(self) -> dict:
        values = asdict(self)
        for name in _JSON_LISTS:
            values[name] = json.dumps(values[name])
        return values


@dataclass
class ExamFlag:
    id: str
    session: str
    device: str
    kind: str
    start: str
    end: str | None
    duration_s: float | None
    confidence: float
    severity: str
    detail: str
    evidence: list = field(default_factory=list)
    review: str | None = None
    review_note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    review_history: list = field(default_factory=list)  # earlier reviews: {decision, note, by, at}, oldest first

    def row(self) -> dict:
        return asdict(self) | {"evidence": json.dumps(self.evidence), "review_history": json.dumps(self.review_history)}


@dataclass(frozen=True)
class Evidence:
    id: str
    session: str
    device: str
    what: str
    reason: str
    sha256: str
    nonce: str
    ciphertext: str
    received_at: str

    def api(self) -> dict:
        """Its description; the picture itself only through the audited evidence route."""
        return {"id": self.id, "what": self.what, "reason": self.reason, "sha256": self.sha256,
                "received_at": self.received_at}


def _session(row) -> ExamSession:
    values = dict(row._mapping)
    for name in _JSON_LISTS:
        values[name] = json.loads(values[name] or "[]")
    return ExamSession(**values)


def _flag(row) -> ExamFlag:
    values = dict(row._mapping)
    values["evidence"] = json.loads(values["evidence"] or "[]")
    values["review_history"] = json.loads(values["review_history"] or "[]")
    return ExamFlag(**values)


class Exams:
    def __init__(self, db: Database):
        self.db = db

    # -- writes -----------------------------------------------------------------------------------------

    def session_for_update(self, tx: Tx, session: str) -> ExamSession | None:
        row = tx.execute(select(exam_sessions).where(exam_sessions.c.id == session)).first()
        return _session(row) if row else None

    def save_session(self, tx: Tx, session: ExamSession, new: bool) -> None:
        values = session.row()
        if new:
            tx.execute(insert(exam_sessions).values(**values))
        else:
            tx.execute(update(exam_sessions).where(exam_sessions.c.id == session.id).values(**values))

    def flag_for_update(self, tx: Tx, flag: str) -> ExamFlag | None:
        row = tx.execute(select(exam_flags).where(exam_flags.c.id == flag)).first()
        return _flag(row) if row else None

    def save_flag(self, tx: Tx, flag: ExamFlag, new: bool) -> None:
        values = flag.row()
        if new:
            tx.execute(insert(exam_flags).values(**values))
        else:
            tx.execute(update(exam_flags).where(exam_flags.c.id == flag.id).values(**values))

    def evidence_exists(self, tx: Tx, evidence: str) -> Evidence | None:
        row = tx.execute(select(exam_evidence).where(exam_evidence.c.id == evidence)).first()
        return Evidence(*row) if row else None

    def add_evidence(self, tx: Tx, evidence: Evidence) -> None:
        tx.execute(insert(exam_evidence).values(**asdict(evidence)))

    def purge_evidence(self, tx: Tx, before: str) -> list[str]:
        ids = [r[0] for r in tx.execute(select(exam_evidence.c.id).where(exam_evidence.c.received_at < before))]
        if ids:
            tx.execute(delete(exam_evidence).where(exam_evidence.c.id.in_(ids)))
        return ids

    # -- reads ------------------------------------------------------------------------------------------

    def sessions(self, site: str | None = None, started_from: str | None = None,
                 started_before: str | None = None) -> list[ExamSession]:
        query = select(exam_sessions).order_by(exam_sessions.c.started_at.desc())
        if site:
            query = query.where(exam_sessions.c.site == site)
        if started_from:
            query = query.where(exam_sessions.c.started_at >= started_from)
        if started_before:
            query = query.where(exam_sessions.c.started_at < started_before)
        with self.db.read() as conn:
            return [_session(r) for r in conn.execute(query)]

    def sessions_by_id(self, ids: list[str]) -> list[ExamSession]:
        with self.db.read() as conn:
            return [_session(r) for r in conn.execute(select(exam_sessions).where(exam_sessions.c.id.in_(ids)))]

    def open_sessions(self, candidate: str, device: str) -> list[ExamSession]:
        """Sessions of `candidate` or on `device` that have neither ended nor been given a verdict."""
        with self.db.read() as conn:
            rows = conn.execute(select(exam_sessions).where(
                (exam_sessions.c.candidate == candidate) | (exam_sessions.c.device == device),
                exam_sessions.c.ended_at.is_(None), exam_sessions.c.verdict.is_(None)))
            return [_session(r) for r in rows]

    def session(self, session: str) -> ExamSession | None:
        with self.db.read() as conn:
            row = conn.execute(select(exam_sessions).where(exam_sessions.c.id == session)).first()
        return _session(row) if row else None

    def flags(self, session: str | None = None, sessions: list[str] | None = None) -> list[ExamFlag]:
        query = select(exam_flags).order_by(exam_flags.c.start)
        if session is not None:
            query = query.where(exam_flags.c.session == session)
        if sessions is not None:
            query = query.where(exam_flags.c.session.in_(sessions))
        with self.db.read() as conn:
            return [_flag(r) for r in conn.execute(query)]

    def flag(self, flag: str) -> ExamFlag | None:
        with self.db.read() as conn:
            row = conn.execute(select(exam_flags).where(exam_flags.c.id == flag)).first()
        return _flag(row) if row else None

    def evidence_of(self, session: str) -> list[Evidence]:
        with self.db.read() as conn:
            return [Evidence(*r) for r in conn.execute(select(exam_evidence).where(exam_evidence.c.session == session)
                                                        .order_by(exam_evidence.c.id))]

    def evidence(self, evidence: str) -> Evidence | None:
        with self.db.read() as conn:
            row = conn.execute(select(exam_evidence).where(exam_evidence.c.id == evidence)).first()
        return Evidence(*row) if row else None
