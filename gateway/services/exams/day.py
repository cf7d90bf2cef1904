"""An exam day as the supervisor follows it (issue 27): each listed candidate with their seat, their check-in at
the door and their session, in one status -- the room's grid and the council's report (`report_lines`, as XLSX by
`workbook`; the PDF is its page, gateway/api/web/day_report.html) read the same rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from gateway.i18n import N_
from gateway.i18n.names import name_of
from gateway.services.exams.sessions import ABSENT
from gateway.storage import ExamCandidate, ExamFlag, ExamSession, Store

# The candidate's place in the day, in the order a day runs.
STATUSES = ("waiting", "checked in", "in progress", "flagged", "finished", "cancelled", "absent")


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
    (voided before the candidate checked in), absent (never checked in when the day was closed)."""
    if session is not None and session.verdict == "void" and not candidate.checked_in_at:
        return "absent" if session.verdict_note == ABSENT else "cancelled"
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


# The council's report: a row per candidate, these columns, in the reader's language.
REPORT_COLUMNS = (("number", N_("Candidate number")), ("name", N_("Full name")), ("licence_class", N_("Class")),
                  ("room", N_("Room")), ("seat", N_("Seat")), ("slot", N_("Slot")),
                  ("checked_in_at", N_("Checked in at")), ("method", N_("Check-in")), ("check", N_("Check found")),
                  ("started", N_("Session started")), ("ended", N_("Session ended")),
                  ("flags", N_("Flags and reviews")),
                  ("verdict", N_("Verdict")), ("status", N_("Status")))
METHODS = {"chip": N_("chip card and face"), "manual": N_("by hand")}
BASES = {"consent": N_("on the candidate's consent"), "exam_rules": N_("on the exam rules")}
REASONS = {"face_refused": N_("refused face processing"), "card_failed": N_("the card could not be read or checked"),
           "face_failed": N_("the face check failed"), "door_down": N_("the door's reader is down"),
           "other": N_("other"),
           "not_listed": N_("not on this room's list"), "face_elsewhere": N_("face registered under another card"),
           "not_matched": N_("face did not match the card"),
           "photo_not_matched": N_("face did not match the list's photo"),
           "photo_unusable": N_("the list's photo has no usable face"),
           "not_live": N_("liveness not confirmed"), "tampered": N_("card tampered"),
           "clone_suspected": N_("card copy suspected"), "expired_document": N_("card expired"),
           "untrusted_issuer": N_("card issuer not trusted"), "not_read": N_("card not read")}
STATUS_NAMES = {"waiting": N_("waiting"), "checked in": N_("checked in"), "in progress": N_("in progress"),
                "flagged": N_("flagged"), "finished": N_("finished"), "cancelled": N_("cancelled"),
                "absent": N_("absent")}


def report_lines(rows: list[DayRow], words, when: Callable[[str | None], str]) -> list[dict[str, str]]:
    """Each candidate's line of the council's report, as text in the reader's language (`words`: their catalogue;
    `when`: a stored time on the centre's clock)."""
    lines = []
    for row in rows:
        c, s, detail = row.candidate, row.session, row.candidate.checkin_detail or {}
        if c.checkin_method == "chip":
            check = words.gettext("card {passive}; face {score} (needs {threshold}); liveness {liveness}; {basis}",
                                  passive=words.gettext(name_of(detail.get("passive"))) or "—",
                                  score=_number(detail.get("cosine")), threshold=_number(detail.get("threshold")),
                                  liveness=_number(detail.get("liveness")),
                                  basis=words.gettext(BASES.get(detail.get("basis"), "")))
            if detail.get("photo") is not None:
                check += "; " + words.gettext("list photo {score}", score=_number(detail["photo"]))
        elif c.checkin_method == "manual":
            check = words.gettext("{reason}: {note} ({user})", reason=words.gettext(REASONS.get(detail.get("reason"),
                                  "other")), note=detail.get("note", ""), user=detail.get("by", ""))
        else:
            check = words.gettext(REASONS[detail["reason"]]) if detail.get("reason") in REASONS else ""
        flags = [words.gettext("{kind} {start}–{end}: {review}", kind=words.gettext(name_of(f.kind)),
                               start=when(f.start)[-8:], end=when(f.end)[-8:] if f.end else "…",
                               review=(f"{words.gettext(name_of(f.review))} — {f.review_note} ({f.reviewed_by})"
                                       if f.review else words.gettext("not reviewed")))
                 for f in row.flags]
        verdict = f"{words.gettext(name_of(s.verdict))} — {s.verdict_note} ({s.verdict_by})" \
            if s is not None and s.verdict else ""
        ran = s is not None and s.checkin not in ("pending", "manual")
        lines.append({"number": c.number, "name": c.name, "licence_class": c.licence_class, "room": c.room,
                      "seat": (s.seat or "") if s else "", "slot": c.slot, "checked_in_at": when(c.checked_in_at),
                      "method": words.gettext(METHODS[c.checkin_method]) if c.checkin_method else "",
                      "check": check, "started": when(s.started_at) if ran else "",
                      "ended": when(s.ended_at) if ran and s.ended_at else "", "flags": "\n".join(flags),
                      "verdict": verdict, "status": words.gettext(STATUS_NAMES[row.status])})
    return lines


def _number(value) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def workbook(lines: list[dict[str, str]], words, title: str) -> bytes:
    """The report as an XLSX workbook: a title row, the column headings, a line per candidate (long cells wrap).
    Every cell is text: a name or a note from the list or a person that starts with "=" stays text, never a
    formula, and characters XLSX cannot hold (control characters) are replaced."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    def text(value: str) -> str:
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)

    book = Workbook()
    sheet = book.active
    sheet.title = words.gettext("Exam day")[:31]
    sheet.append([text(title)])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([words.gettext(label) for _, label in REPORT_COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for line in lines:
        sheet.append([text(line[key]) for key, _ in REPORT_COLUMNS])
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":  # openpyxl takes any string starting with "=" for a formula
                cell.data_type = "s"
    widths = {"name": 28, "check": 40, "flags": 48, "verdict": 32, "method": 18, "checked_in_at": 20,
              "started": 20, "ended": 20, "status": 14}
    for index, (key, _) in enumerate(REPORT_COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(2, index).column_letter].width = widths.get(key, 12)
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "C3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
