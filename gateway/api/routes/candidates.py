"""The exam council's candidate list for a day at a test centre (supervisors and admins): imported from its file
(XLSX or CSV) and listed. A file with problems is refused whole, each problem by row and field in the asker's
language (422 with `problems`); the personal number never leaves the gateway, not even as its hash."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway.api.deps import EXAM_ROLES, GatewayDep, actor, require
from gateway.errors import Invalid
from gateway.services.exams.candidates import MAX_BYTES, import_candidates, parse_candidates
from gateway.storage import ExamCandidate, Session
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


def _out(c: ExamCandidate) -> CandidateOut:
    return CandidateOut(id=c.id, number=c.number, name=c.name, licence_class=c.licence_class, parts=list(c.parts),
                        exam_date=c.exam_date, slot=c.slot, room=c.room)


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
             day: date) -> list[CandidateOut]:
    """Test centre `site`'s candidates on `day`, by room, slot and number."""
    return [_out(c) for c in gw.store.candidates.day(site, f"{day:%Y-%m-%d}")]
