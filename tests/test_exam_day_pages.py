"""An exam day run from the pages (issue 27), in Chromium: the supervisor (in Vietnamese) imports the council's
350-row list -- first with 3 bad rows, each reported by row and field -- schedules the room, and follows it as a
grid while 5 candidates check in at the door (its own login's screen, in English for the first and Vietnamese for
the rest; the software chip cards through the real pcscd, their faces before the camera); one is flagged when
another face sits down beside them, the flag is reviewed, the day closed, and the council's report downloaded as
XLSX (Vietnamese) and PDF (English) and read back."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from conftest import DATA
from edge.eval.synthetic import Sitter, desk_frames, face_patch, write_video
from edge.node.exam_node import build_exam
from emrtd_card import SoftwareCard, issue_card
from exam_lists import candidate_rows, xlsx
from gateway.services.security.auth import KIOSK, Auth
from stack import Stack
from test_exam_day import door, trusted  # noqa: F401 - fixtures
from test_kiosk import KIOSK_PASSWORD, before_the_camera, chip_jpeg, kiosk_config  # noqa: F401 - a fixture
from test_pages import accessibility_problems, login, new_page, shot
from wire.bundle import load_bundle

LFW = DATA / "faces" / "lfw-devtest" / "images"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ROOM = "Phòng 9"
DOOR = "door-9"
# The room's five candidates: name, personal number, birth date, card expiry, LFW person (chip photo, live photo).
FIVE = [("Nguyễn Văn An", "001090001344", "15/03/1990", "300315", "Abdullah_Gul", "0013", "0014"),
        ("Trần Thị Bình", "001095002211", "02/07/1995", "350702", "Amelie_Mauresmo", "0001", "0006"),
        ("Lê Hữu Cường", "001088003300", "20/11/1988", "481120", "Angelo_Reyes", "0001", "0002"),
        ("Phạm Minh Đức", "001092004400", "05/05/1992", "320505", "Albert_Costa", "0002", "0005"),
        ("Hoàng Ngọc Lan", "001093005500", "09/09/1993", "330909", "Amanda_Bynes", "0001", "0003")]


def photo(person: str, number: str):
    return LFW / person / f"{person}_{number}.jpg"


def the_list(today, slot: str, bad: bool) -> bytes:
    """350 candidates over the centre's rooms; rows 2-6 are this room's five, now. With `bad`, three rows wrong."""
    rows = candidate_rows(350, today)
    for i, (name, personal, birth, *_rest) in enumerate(FIVE):
        day, month, year = (int(v) for v in birth.split("/"))
        rows[i] = [f"9{i + 1:03d}", name, personal, datetime(year, month, day).date(), "B", "lý thuyết", today, slot,
                   ROOM]
    if bad:
        rows[40][2] = "00109000134"  # 11 digits: row 42 of the sheet
        rows[80][3] = "31/02/1990"  # no such day: row 82
        rows[120][1] = ""  # no name: row 122
    return xlsx(rows)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack.create(tmp_path_factory.mktemp("exam-day-pages"))
    s.add_device("door-9", "centre-9", kind="kiosk")
    for seat in range(1, 6):
        s.add_device(f"seat-9-{seat}", "centre-9", kind="exam")
        assert s.put(f"/api/devices/seat-9-{seat}/place", {"room": ROOM, "seat": str(seat)}).status_code == 200
    Auth(s.store).add_user("door-9", KIOSK, KIOSK_PASSWORD, device="door-9")  # the door's own login
    assert s.put("/api/kiosks/door-9/setup", {"purpose": "exam", "ticket_days": 0, "mode": "checkin",
                                              "room": ROOM, "basis": "consent"}).status_code == 200
    yield s
    s.close()


def sits_down_with_a_neighbour(pack, person: str, number: str, path):
    """10 s at the desk: the candidate throughout, someone else leaning in from 3 s to 6 s."""
    def patch(image_path, height):
        image = cv2.imread(str(image_path))
        d = pack.detector.detect(image)
        return face_patch(image, d.boxes[int(np.argmax(d.scores))], height)
    sitters = [Sitter(patch(photo(person, number), 220), 0, 10, 220, 120),
               Sitter(patch(photo("Angelo_Reyes", "0003"), 180), 3, 6, 450, 200)]
    return write_video(path, (frame for _, frame in desk_frames(sitters, 10, 10.0)), 10.0)


def test_a_supervisor_runs_the_exam_day_from_the_pages(browser, stack, pki, trusted, door, pack, kiosk_config,
                                                       tmp_path):
    now = datetime.now(ZONE)
    slot, today = f"{now:%H:%M}", now.date()
    day_page = new_page(browser, stack, "vi", accept_downloads=True, bypass_csp=True)
    door_page = new_page(browser, stack, "vi", width=1080, height=1920, accept_downloads=True, bypass_csp=True)
    try:
        login(day_page, stack, "supervisor")
        day_page.goto(stack.gateway.base_url + "/exam/day")
        day_page.locator("#prepare summary").click()

        # The list with three bad rows: refused whole, each problem by row and field, in Vietnamese.
        day_page.set_input_files("#import input[type=file]", files=[{
            "name": "danh-sach.xlsx", "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": the_list(today, slot, bad=True)}])
        day_page.click("#import button[type=submit]")
        problems = day_page.locator("#import-result tbody tr")
        expect(problems).to_have_count(3)
        assert [problems.nth(i).locator("td").nth(0).inner_text() for i in range(3)] == ["42", "82", "122"]
        assert [problems.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == [
            "số định danh cá nhân", "ngày sinh", "họ và tên"]
        shot(day_page, "exam-day-list-refused")
        day_page.set_input_files("#import input[type=file]", files=[{
            "name": "danh-sach.xlsx", "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": the_list(today, slot, bad=False)}])
        day_page.click("#import button[type=submit]")
        expect(day_page.locator("#import-result")).to_contain_text("350 thí sinh: thêm 350")

        # The room's schedule: five seats, in number order.
        day_page.select_option("#filters select[name=room]", ROOM)
        day_page.click("#filters button[type=submit]")
        day_page.click("#schedule")
        expect(day_page.locator("#schedule-result")).to_contain_text("Vừa xếp chỗ 5")
        seats = day_page.locator("li.seat")
        expect(seats).to_have_count(5)
        expect(seats.nth(0)).to_contain_text("máy 1")
        expect(seats.nth(0)).to_contain_text("Nguyễn Văn An")
        expect(day_page.locator("li.seat.status-waiting")).to_have_count(5)

        # The door, as the candidates see it (its own login: nothing of the staff's): the first reads it in English,
        # the screen goes back to Vietnamese for the next; each agrees, puts their card on the reader and looks up.
        door_page.goto(stack.gateway.base_url + "/login")
        door_page.fill("input[name=username]", "door-9")
        door_page.fill("input[name=password]", KIOSK_PASSWORD)
        door_page.click("button[type=submit]")
        door_page.wait_for_url(lambda url: url.endswith("/door"))  # the kiosk's home, set up as a door
        assert door_page.locator("header nav a[href^='/exam'], #logout, .who, #pick").count() == 0
        door_page.click("nav.languages a[lang=en]")
        door_page.wait_for_url("**/door?lang=en")
        expect(door_page.locator("#room-name")).to_contain_text(ROOM)
        assert accessibility_problems(door_page) == []
        for seat, (name, personal, birth, expiry, person, chip, live) in enumerate(FIVE, start=1):
            issued = issue_card(pki, chip_jpeg(photo(person, chip)), document=personal[-9:],
                                birth=birth[-2:] + birth[3:5] + birth[:2], expiry=expiry, citizen_number=personal)
            door.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
            door.video = before_the_camera(photo(person, live), tmp_path / f"door-{seat}.avi")
            expect(door_page.locator("#agree")).to_be_enabled()
            door_page.click("#agree")
            english = seat == 1
            expect(door_page.locator("#where")).to_have_text(f"{ROOM} · {'seat' if english else 'máy'} {seat}",
                                                             timeout=60_000)
            expect(door_page.locator("#who")).to_contain_text(
                f"{name} (candidate 9{seat:03d}), you are checked in." if english else
                f"{name} (SBD 9{seat:03d}), bạn đã làm xong thủ tục.")
            if english:
                shot(door_page, "exam-door-checked-in")
            door_page.click("#next")  # back to the start, in the door's own language
            door_page.wait_for_load_state("networkidle")
        expect(day_page.locator("li.seat.status-checked-in")).to_have_count(5, timeout=15_000)

        # Candidate 1 sits down at seat 1; a neighbour leans in: the seat's device flags several faces.
        seat_config = kiosk_config.model_copy(deep=True)
        seat_config.events.outbox = tmp_path / "seat-9-1" / "outbox.db"
        seat_config.events.gallery = tmp_path / "seat-9-1" / "gallery.enc"
        seat = build_exam(seat_config, load_bundle(stack.devices["seat-9-1"]), pack=pack)
        try:
            ran = seat.run_session(str(sits_down_with_a_neighbour(pack, "Abdullah_Gul", "0014",
                                                                  tmp_path / "desk.avi")), wait_s=20)
        finally:
            seat.close(5)
        assert ran.checkin == "passed" and [f.kind for f in ran.flags] == ["multiple_faces"]
        flagged = day_page.locator("li.seat.status-flagged")
        expect(flagged).to_have_count(1, timeout=20_000)
        expect(flagged).to_contain_text("nhiều khuôn mặt")
        assert accessibility_problems(day_page) == []
        shot(day_page, "exam-day-room")
        day_page.set_viewport_size({"width": 390, "height": 844})  # the supervisor walking the room, phone in hand
        expect(flagged).to_be_visible()
        assert day_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(day_page, "exam-day-room-phone")
        day_page.set_viewport_size({"width": 1366, "height": 768})

        # The supervisor opens the seat, confirms the flag and gives the verdict.
        flagged.locator("a").click()
        day_page.wait_for_url("**/exam?session=*")
        review = day_page.locator("form.review").first
        review.locator("select[name=decision]").select_option("confirmed")
        review.locator("input[name=note]").fill("Thí sinh bên cạnh nhìn sang bài")
        review.locator("button[type=submit]").click()
        expect(day_page.locator("#detail")).to_contain_text("Thí sinh bên cạnh nhìn sang bài")
        verdict = day_page.locator("#verdict")
        verdict.locator("select[name=verdict]").select_option("incident")
        verdict.locator("input[name=note]").fill("Lập biên bản vi phạm")
        verdict.locator("button[type=submit]").click()
        expect(day_page.locator("#detail")).to_contain_text("Lập biên bản vi phạm")

        # The day closes; the council's report, read back.
        day_page.goto(stack.gateway.base_url + f"/exam/day?site=centre-9&day={today:%d/%m/%Y}&room={ROOM}")
        day_page.locator("#prepare summary").click()
        day_page.once("dialog", lambda dialog: dialog.accept())
        day_page.click("#close")
        expect(day_page.locator("#close-result")).to_contain_text("Đã kết thúc ngày thi")
        with day_page.expect_download() as got:
            day_page.click("#report-xlsx")
        assert got.value.suggested_filename == f"exam-day-centre-9-{today}.xlsx"
        with open(got.value.path(), "rb") as file:
            sheet = load_workbook(file).active
        assert [c.value for c in sheet[2]][:6] == ["Số báo danh", "Họ và tên", "Hạng", "Phòng", "Chỗ ngồi", "Ca thi"]
        lines = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
        assert len(lines) == 350
        first = lines["9001"]
        assert first[1] == "Nguyễn Văn An" and first[7] == "thẻ chip và khuôn mặt" and first[13] == "đã xong"
        assert "nhiều khuôn mặt" in first[11] and "Thí sinh bên cạnh nhìn sang bài" in first[11]
        assert "Lập biên bản vi phạm" in first[12]
        door_page.context.clear_cookies()  # a supervisor reading English at the door's screen
        door_page.context.add_cookies([{"name": "facegate_lang", "value": "en", "url": stack.gateway.base_url}])
        login(door_page, stack, "supervisor")
        door_page.goto(stack.gateway.base_url + f"/exam/day?site=centre-9&day={today:%d/%m/%Y}")
        expect(door_page.locator("#report-pdf")).not_to_have_attribute("href", "#")
        with door_page.expect_download() as got:  # the same report, in English, as the PDF record
            door_page.click("#report-pdf")
        from pypdf import PdfReader

        text = "\n".join(p.extract_text() for p in PdfReader(got.value.path()).pages)
        assert "SOCIALIST REPUBLIC OF VIET NAM" in text.upper() and "RECORD OF THE EXAM DAY" in text.upper()
        assert "Page 1 /" in text and "Head of the exam council" in text and "several faces" in text
    finally:
        day_page.context.close()
        door_page.context.close()
