"""An exam day as the supervisor follows it (issue 27): each listed candidate with their seat, their check-in at
the door and their session, in one status -- the room's grid and the council's report read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.services.exams.sessions import has_run
from gateway.storage import ExamCandidate, ExamFlag, ExamSession, Store

# The candidate's place in the day, in the order a day runs.
STATUSES = ("waiting", "checked in", "in progress", "flagged", "finished", "cancelled")


@dataclass(frozen=True)
class DayRow:
    candidate: ExamCandidate
    session: ExamSession | None
    flags: list[ExamFlag]
    status: str  # one of STATUSES

    @property
    def flag_kinds(self) -> list[str]:
        """The kinds of the flags a person has not dismissed, once each."""
        return list(dict.fromkeys(f.kind for f in self.flags if f.review != "dismissed"))


def status(candidate: ExamCandidate, session: ExamSession | None, flags: list[ExamFlag]) -> str:
    """Waiting (not through the door), checked in (the seat has not started, or checked in by hand), in progress,
    flagged (a flag nobody has dismissed, until the verdict), finished (ended, or given a verdict), cancelled
    (voided before it ran)."""
    if session is not None and session.verdict == "void" and not has_run(session, flags):
        return "cancelled"
    if not candidate.checked_in_at:
        return "waiting"
    if session is None:
        return "checked in"
    if not session.verdict and any(f.review != "dismissed" for f in flags):
        return "flagged"
    if session.ended_at or session.verdict:
        return "finished"
    # by hand, the seat's device does not supervise: the room's supervisor does, until the verdict
    return "checked in" if session.checkin in ("pending", "manual") else "in progress"


def day_rows(store: Store, site: str, day: str, room: str | None = None) -> list[DayRow]:
    """The candidates of `site` on `day` (YYYY-MM-DD; one room, or all), by room, slot and number."""
    candidates = [c for c in store.candidates.day(site, day) if room is None or c.room == room]
    ids = [c.session for c in candidates if c.session]
    sessions = {s.id: s for s in store.exams.sessions_by_id(ids)} if ids else {}
    flags: dict[str, list[ExamFlag]] = {}
    for f in store.exams.flags(sessions=ids) if ids else []:
        flags.setdefault(f.session, []).append(f)
    rows = []
    for c in candidates:
        session = sessions.get(c.session or "")
        own = flags.get(session.id, []) if session else []
        rows.append(DayRow(c, session, own, status(c, session, own)))
    return rows
