"""The exam council's candidate list for a day at a test centre (issue 27): imported from its file, checked row by
row before anything is written.

The file is XLSX (the first sheet) or CSV (UTF-8, as Excel's "CSV UTF-8" saves it; comma or semicolon), a heading
row then a row per candidate: candidate number (số báo danh), full name (any script), the 12-digit personal
number, birth date, licence class, exam parts (theory, simulation, track, road), date, slot, room; and, optionally, a
photo column whose cells hold a picture placed on the row (XLSX only: a CSV cannot carry pictures). Headings may be
Vietnamese or English, in any order. Every problem is reported by row and field, and then nothing is written; a
re-import updates each candidate by number and date, never adding them twice.

The personal number is kept as the keyed hash enrolment uses. What the chip's access key needs on the day -- the
number's last nine digits and the birth date -- is kept only until the day ends (`forget_day_keys`, run by the
gateway's housekeeping), and so is a list's photo: the door matches the live face to it as well as to the chip's.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from gateway.errors import Invalid, RowProblem, RowsInvalid
from gateway.i18n import N_
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import ExamCandidate, Store
from models.photos import decode_image
from wire import uuid7

MAX_ROWS = 5000  # a council's day at one centre is a few hundred
MAX_BYTES = 32 * 1024 * 1024  # a list of a few hundred rows with an ID photo each (tens of KB) is a few MB
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MIN_PHOTO_SIDE = 100  # pixels: smaller, an ID photo's face is too small to match

# Each field, its label (what a problem names, in the reader's language) and the headings a file may give it.
FIELDS = {
    "number": (N_("candidate number"), ("số báo danh", "sbd", "candidate number", "number")),
    "name": (N_("full name"), ("họ và tên", "họ tên", "full name", "name")),
    "personal_number": (N_("personal number"), ("số định danh cá nhân", "số định danh", "số cccd", "cccd",
                                                "personal number", "id number")),
    "birth": (N_("birth date"), ("ngày sinh", "birth date", "date of birth")),
    "licence_class": (N_("licence class"), ("hạng", "hạng gplx", "hạng giấy phép", "licence class", "class")),
    "parts": (N_("exam parts"), ("nội dung thi", "phần thi", "exam parts", "parts")),
    "exam_date": (N_("exam date"), ("ngày thi", "exam date", "date")),
    "slot": (N_("slot"), ("ca thi", "giờ thi", "slot")),
    "room": (N_("room"), ("phòng thi", "phòng", "room")),
}
PHOTO = (N_("photo"), ("ảnh", "ảnh thẻ", "ảnh chân dung", "hình", "photo", "picture"))  # the optional column
PARTS = {"theory": ("theory", "lý thuyết"), "simulation": ("simulation", "mô phỏng"),
         "track": ("track", "sa hình"), "road": ("road", "đường trường")}
CLASS = re.compile(r"^[A-F][0-9A-Z]{0,3}$")
NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(str(text).split())).lower()


HEADINGS = {_plain(heading): name for name, (_, headings) in (*FIELDS.items(), ("photo", PHOTO))
            for heading in headings}
PART_NAMES = {_plain(word): part for part, words in PARTS.items() for word in words}


@dataclass(frozen=True)
class CandidateRow:
    """One checked row of the file (`row`: its number in the sheet, the heading being row 1)."""

    row: int
    number: str
    name: str
    personal_number: str
    birth: date
    licence_class: str
    parts: tuple[str, ...]
    exam_date: date
    slot: str
    room: str
    photo: bytes | None = None  # the picture on the row (JPEG or PNG), if the list has one


@dataclass(frozen=True)
class Imported:
    rows: int
    added: int
    updated: int
    unchanged: int
    dates: tuple[str, ...]


@dataclass
class _Table:
    rows: list[list]  # the cells (XLSX cells keep their types: a date is a date)
    pictures: dict[tuple[int, int], list[bytes]]  # (row, column), both from 0, of each picture's top-left corner


def _table(data: bytes, filename: str) -> _Table:
    """The file's rows as cells, and the pictures placed on its cells."""
    if len(data) > MAX_BYTES:
        raise Invalid("the file is larger than {mb} MB", mb=MAX_BYTES // (1024 * 1024))
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        from openpyxl import load_workbook

        try:  # not read-only: openpyxl reads a sheet's pictures only then
            sheet = load_workbook(io.BytesIO(data), data_only=True).worksheets[0]
        except Exception:  # openpyxl raises what its XML and zip readers raise
            raise Invalid("the file is not an XLSX workbook Excel or LibreOffice can open") from None
        pictures: dict[tuple[int, int], list[bytes]] = {}
        for picture in sheet._images:  # openpyxl's only way to a sheet's pictures
            corner = getattr(picture.anchor, "_from", None)  # a picture not placed on a cell has none
            if corner is not None:
                pictures.setdefault((corner.row, corner.col), []).append(picture._data())
        return _Table([list(row) for row in sheet.iter_rows(values_only=True)], pictures)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the CSV file is not UTF-8: save it from Excel as \"CSV UTF-8\"") from None
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    return _Table([row for row in csv.reader(io.StringIO(text), dialect)], {})


def _photo(pictures: list[bytes]) -> tuple[bytes | None, str | None]:
    """The one picture on a row, checked (a JPEG or PNG the door can read, large enough to hold a face); or what is
    wrong with it."""
    if len(pictures) > 1:
        return None, N_("{n} pictures on this row: one photo a candidate")
    image = decode_image(pictures[0], max_bytes=MAX_PHOTO_BYTES)
    if isinstance(image, str) or min(image.shape[:2]) < MIN_PHOTO_SIDE:
        return None, N_("the photo is not a JPEG or PNG picture of at least {side} pixels a side and at most 2 MB")
    return pictures[0], None


def _date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError


def _slot(value) -> str:
    if isinstance(value, (time, datetime)):
        return f"{value.hour:02d}:{value.minute:02d}"
    match = re.fullmatch(r"(\d{1,2})[:hH.](\d{2})", str(value or "").strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError
    return f"{int(match[1]):02d}:{match[2]}"


def _personal_number(value) -> str:
    if isinstance(value, int):  # a number cell: Excel dropped the leading zeros of "001..."
        value = str(value).zfill(12)
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value)).zfill(12)
    text = re.sub(r"[\s.]", "", str(value or ""))
    if not re.fullmatch(r"\d{12}", text):
        raise ValueError
    return text


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", " ".join(str(value).split()))


def parse_candidates(data: bytes, filename: str) -> list[CandidateRow]:
    """Every row of the council's file, checked; RowsInvalid naming each problem by row and field (nothing is
    imported then), Invalid for a file that is not a list at all."""
    read = _table(data, filename)
    table = read.rows
    while table and not any(_text(c) for c in table[-1]):
        table.pop()  # trailing empty rows, as spreadsheets keep them
    if not table:
        raise Invalid("the file is empty")
    columns = {}
    for index, heading in enumerate(table[0]):
        name = HEADINGS.get(_plain(heading or ""))
        if name and name not in columns:
            columns[name] = index
    missing = [FIELDS[name][0] for name in FIELDS if name not in columns]
    if missing:
        raise _refused([RowProblem(1, label, N_("this column is missing")) for label in missing])
    if len(table) - 1 > MAX_ROWS:
        raise Invalid("the list has {n} rows; at most {max} at once", n=len(table) - 1, max=MAX_ROWS)
    problems, rows, seen_numbers, seen_people = [], [], {}, {}
    for number, cells in enumerate(table[1:], start=2):
        if not any(_text(c) for c in cells):
            continue  # a blank row between blocks
        cell = {name: cells[i] if i < len(cells) else None for name, i in columns.items()}
        photo = None
        if "photo" in columns:
            pictures = read.pictures.get((number - 1, columns["photo"]), [])
            if pictures:
                photo, wrong = _photo(pictures)
                if wrong:
                    problems.append(RowProblem(number, PHOTO[0], wrong, {"n": len(pictures), "side": MIN_PHOTO_SIDE}))
            elif _text(cell["photo"]):  # a file name or a link: the door has no way to it
                problems.append(RowProblem(number, PHOTO[0], N_("a photo must be a picture placed in the row's cell "
                                                               "of an XLSX file, not text")))
        found = {}

        def check(name: str, parse, message: str) -> None:
            try:
                found[name] = parse(cell[name])
            except ValueError:
                problems.append(RowProblem(number, FIELDS[name][0], message, {"value": _text(cell[name])[:40]}))

        check("number", lambda v: _matching(NUMBER, _text(v)), N_("'{value}' is not a candidate number"))
        check("name", lambda v: _sized(_text(v), 200), N_("a name is required (at most 200 characters)"))
        check("personal_number", _personal_number, N_("'{value}' is not a 12-digit personal number"))
        check("birth", _date, N_("'{value}' is not a date (dd/mm/yyyy)"))
        check("licence_class", lambda v: _matching(CLASS, _text(v).upper()), N_("'{value}' is not a licence class"))
        check("parts", _parts, N_("'{value}' is not a list of exam parts (theory, simulation, track, road)"))
        check("exam_date", _date, N_("'{value}' is not a date (dd/mm/yyyy)"))
        check("slot", _slot, N_("'{value}' is not a time (hh:mm)"))
        check("room", lambda v: _sized(_text(v), 40), N_("a room is required (at most 40 characters)"))
        if len(found) < len(FIELDS):
            continue
        if not 14 <= (found["exam_date"] - found["birth"]).days // 365 <= 100:
            dates = {"birth": f"{found['birth']:%d/%m/%Y}", "day": f"{found['exam_date']:%d/%m/%Y}"}
            problems.append(RowProblem(number, FIELDS["birth"][0],
                                       N_("a candidate born on {birth} cannot sit an exam on {day}"), dates))
            continue
        day = found["exam_date"]
        first = seen_numbers.setdefault((day, found["number"]), number)
        if first != number:
            problems.append(RowProblem(number, FIELDS["number"][0], N_("candidate {value} is also on row {row}"),
                                       {"value": found["number"], "row": first}))
            continue
        other = seen_people.setdefault((day, found["personal_number"]), number)
        if other != number:
            problems.append(RowProblem(number, FIELDS["personal_number"][0],
                                       N_("the same person is also on row {row} that day"), {"row": other}))
            continue
        rows.append(CandidateRow(number, **found, photo=photo))
    if problems:
        raise _refused(problems)
    return rows


def _refused(problems: list[RowProblem]) -> RowsInvalid:
    return RowsInvalid(N_("the list has {n} problem(s); nothing was imported: correct them and import it again"),
                       problems, n=len(problems))


def _matching(pattern: re.Pattern, text: str) -> str:
    if not pattern.match(text):
        raise ValueError
    return text


def _sized(text: str, most: int) -> str:
    if not text or len(text) > most:
        raise ValueError
    return text


def _parts(value) -> tuple[str, ...]:
    words = [w for w in re.split(r"[,;/+]", _text(value)) if w.strip()]
    parts = [PART_NAMES.get(_plain(w)) for w in words]
    if not parts or None in parts:
        raise ValueError
    return tuple(dict.fromkeys(parts))


def import_candidates(store: Store, secrets: GatewaySecrets, site: str, rows: list[CandidateRow],
                      actor: str) -> Imported:
    """Write the checked rows for test centre `site`: a candidate already listed (same number, same day) is
    updated, a new one added. Audited (`exam.candidates_imported`: counts, never a name or number)."""
    if site not in store.people.site_ids():
        raise Invalid("unknown site(s): {sites}", sites=site)
    added = updated = unchanged = 0
    dates = sorted({f"{r.exam_date:%Y-%m-%d}" for r in rows})
    with store.db.transaction() as tx:
        listed = {day: store.candidates.numbered(tx, site, day) for day in dates}
        for r in rows:
            day = f"{r.exam_date:%Y-%m-%d}"
            before = listed[day].get(r.number)
            listing = {  # what the list says; the schedule and the check-in stay as they are
                "exam_date": day, "number": r.number, "name": r.name,
                "personal_hash": secrets.id_card_hash(r.personal_number), "document": r.personal_number[-9:],
                "birth": f"{r.birth:%Y-%m-%d}", "licence_class": r.licence_class, "parts": r.parts, "slot": r.slot,
                "room": r.room, "imported_by": actor, "imported_at": tx.now}
            if before is None:
                candidate = ExamCandidate(id=str(uuid7()), site=site, **listing)
                store.candidates.add(tx, candidate)
                store.candidates.set_photo(tx, candidate.id, r.photo)
                added += 1
                continue
            candidate = replace(before, **listing)
            new_photo = store.candidates.photo_in(tx, before.id) != r.photo
            if replace(before, imported_by=actor, imported_at=tx.now) == candidate and not new_photo:
                unchanged += 1
                continue
            store.candidates.replace(tx, candidate)
            if new_photo:
                store.candidates.set_photo(tx, candidate.id, r.photo)
            updated += 1
        tx.audit(actor, "exam.candidates_imported", site, {"dates": dates, "rows": len(rows), "added": added,
                                                            "updated": updated, "unchanged": unchanged})
    return Imported(len(rows), added, updated, unchanged, tuple(dates))


def forget_day_keys(store: Store, zone: str, now: datetime | None = None) -> int:
    """Clear the chip access keys (number's last digits, birth date) of every exam day that has ended on the
    centre's clock; how many candidates had one. Audited when there were any."""
    today = (now or datetime.now(ZoneInfo(zone))).astimezone(ZoneInfo(zone)).date()
    with store.db.transaction(unaudited="no exam day's keys to forget") as tx:
        count = store.candidates.clear_access_before(tx, f"{today:%Y-%m-%d}")
        if count:
            tx.audit("retention", "exam.day_keys_forgotten", None, {"before": f"{today:%Y-%m-%d}", "count": count})
    return count
