"""The exam council's candidate lists (migration 0011): a row per candidate, a centre and a day; the photos a list
carries (0013) apart, so that reading a day never loads pictures."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from gateway.storage.schema import exam_candidate_photos, exam_candidates

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class ExamCandidate:
    id: str
    site: str
    exam_date: str  # YYYY-MM-DD
    number: str  # the candidate number (số báo danh)
    name: str
    personal_hash: str
    document: str | None  # the chip's access key for the day (None once the day has ended) ...
    birth: str | None  # ... YYYY-MM-DD
    licence_class: str
    parts: tuple[str, ...]
    slot: str  # HH:MM
    room: str
    imported_by: str
    imported_at: str
    session: str | None = None  # the session scheduled for the candidate
    checked_in_at: str | None = None  # at the door: when ...
    checkin_method: str | None = None  # ... "chip" | "manual" ...
    basis: str | None = None  # ... the legal basis: "consent" | "exam_rules" ...
    checkin_detail: dict | None = None  # ... and what was found: the card's outcome, scores, who checked by hand


_NAMES = [f.name for f in fields(ExamCandidate)]


def _row(values) -> ExamCandidate:
    data = dict(zip(_NAMES, values))
    data["parts"] = tuple(json.loads(data["parts"]))
    data["checkin_detail"] = json.loads(data["checkin_detail"]) if data["checkin_detail"] else None
    return ExamCandidate(**data)


def _columns(candidate: ExamCandidate) -> dict:
    values = {name: getattr(candidate, name) for name in _NAMES}
    values["parts"] = json.dumps(list(candidate.parts))
    values["checkin_detail"] = json.dumps(candidate.checkin_detail) if candidate.checkin_detail else None
    return values


class Candidates:
    def __init__(self, db: Database):
        self.db = db

    def day(self, site: str, exam_date: str) -> list[ExamCandidate]:
        """A centre's candidates on a day, by room, slot and number."""
        with self.db.read() as conn:
            rows = conn.execute(select(*[exam_candidates.c[n] for n in _NAMES])
                                .where(exam_candidates.c.site == site, exam_candidates.c.exam_date == exam_date)
                                .order_by(exam_candidates.c.room, exam_candidates.c.slot,
                                          exam_candidates.c.number)).fetchall()
        return [_row(r) for r in rows]

    def get(self, candidate: str) -> ExamCandidate | None:
        with self.db.read() as conn:
            row = conn.execute(select(*[exam_candidates.c[n] for n in _NAMES])
                               .where(exam_candidates.c.id == candidate)).first()
        return _row(row) if row else None

    def for_update(self, tx: Tx, candidate: str) -> ExamCandidate | None:
        """The candidate's row as this transaction sees it."""
        row = tx.execute(select(*[exam_candidates.c[n] for n in _NAMES])
                         .where(exam_candidates.c.id == candidate)).first()
        return _row(row) if row else None

    def numbered(self, tx: Tx, site: str, exam_date: str) -> dict[str, ExamCandidate]:
        """A centre's candidates on a day by candidate number (in the transaction: an import's view)."""
        rows = tx.execute(select(*[exam_candidates.c[n] for n in _NAMES])
                          .where(exam_candidates.c.site == site, exam_candidates.c.exam_date == exam_date)).fetchall()
        return {r[3]: _row(r) for r in rows}

    def add(self, tx: Tx, candidate: ExamCandidate) -> None:
        tx.execute(insert(exam_candidates).values(**_columns(candidate)))

    def replace(self, tx: Tx, candidate: ExamCandidate) -> None:
        """The row of the same id, with everything else as given."""
        values = _columns(candidate)
        values.pop("id")
        tx.execute(update(exam_candidates).where(exam_candidates.c.id == candidate.id).values(**values))

    def photo(self, candidate: str) -> bytes | None:
        """The picture the list carries for the candidate, if any (and the day has not ended)."""
        with self.db.read() as conn:
            row = conn.execute(select(exam_candidate_photos.c.photo)
                               .where(exam_candidate_photos.c.candidate == candidate)).first()
        return bytes(row[0]) if row else None

    def photo_in(self, tx: Tx, candidate: str) -> bytes | None:
        """The candidate's photo as this transaction sees it."""
        row = tx.execute(select(exam_candidate_photos.c.photo)
                         .where(exam_candidate_photos.c.candidate == candidate)).first()
        return bytes(row[0]) if row else None

    def set_photo(self, tx: Tx, candidate: str, photo: bytes | None) -> None:
        """The candidate's photo as the list now gives it (None: the list has none)."""
        tx.execute(delete(exam_candidate_photos).where(exam_candidate_photos.c.candidate == candidate))
        if photo is not None:
            tx.execute(insert(exam_candidate_photos).values(candidate=candidate, photo=photo))

    def clear_access_of(self, tx: Tx, site: str, exam_date: str) -> int:
        """Forget the chip access keys and the photos of one centre's day (the day closed); how many candidates had
        a key."""
        day = select(exam_candidates.c.id).where(exam_candidates.c.site == site,
                                                  exam_candidates.c.exam_date == exam_date)
        tx.execute(delete(exam_candidate_photos).where(exam_candidate_photos.c.candidate.in_(day)))
        return tx.execute(update(exam_candidates)
                          .where(exam_candidates.c.site == site, exam_candidates.c.exam_date == exam_date,
                                 exam_candidates.c.document.is_not(None))
                          .values(document=None, birth=None)).rowcount

    def clear_access_before(self, tx: Tx, exam_date: str) -> int:
        """Forget the chip access keys and the photos of every day before `exam_date`; how many candidates had a
        key."""
        days = select(exam_candidates.c.id).where(exam_candidates.c.exam_date < exam_date)
        tx.execute(delete(exam_candidate_photos).where(exam_candidate_photos.c.candidate.in_(days)))
        return tx.execute(update(exam_candidates)
                          .where(exam_candidates.c.exam_date < exam_date, exam_candidates.c.document.is_not(None))
                          .values(document=None, birth=None)).rowcount
