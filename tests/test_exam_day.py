"""An exam day at a test centre (issue 27), through the real gateway and Mosquitto: the council's list imported, the
day scheduled on the room's placed seat devices, candidates checked in at the room's door -- a kiosk in check-in
mode reading software chip cards behind the real pcscd, with the keys from the list, nothing typed -- and the seat's
device running the session it was sent."""

from __future__ import annotations

import base64
import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from conftest import DATA
from edge.node.exam_node import build_exam
from emrtd.checks.trust import TrustStore
from emrtd_card import SoftwareCard, issue_card
from exam_lists import xlsx
from stack import Stack, sql, wait_for
from test_kiosk import KioskAtTheCounter, before_the_camera, chip_jpeg, kiosk_config  # noqa: F401 - a fixture
from wire.bundle import load_bundle

LFW = DATA / "faces" / "lfw-devtest" / "images"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # the gateway's default time zone
ROOM = "Phòng 2"
DOOR = "door-2"
# Three candidates: the list's fields, their card's expiry (one the card's rules allow: 0003's is the second of
# those the door tries) and their LFW person -- the chip's portrait one photo, the face at the door another.
PEOPLE = {
    "0001": ("Nguyễn Văn An", "001090001344", date(1990, 3, 15), "300315", "Abdullah_Gul"),
    "0002": ("Trần Thị Bình", "001095002211", date(1995, 7, 2), "350702", "Amelie_Mauresmo"),
    "0003": ("Lê Hữu Cường", "001088003300", date(1988, 11, 20), "481120", "Angelo_Reyes"),
}
CHIP = {"Abdullah_Gul": "0013", "Amelie_Mauresmo": "0001", "Angelo_Reyes": "0001", "Ana_Palacio": "0001"}
LIVE = {"Abdullah_Gul": "0014", "Amelie_Mauresmo": "0006", "Angelo_Reyes": "0002", "Ana_Palacio": "0006"}


def photo(person: str, which: dict):
    return LFW / person / f"{person}_{which[person]}.jpg"


# The photos the council's list carries: 0001's is theirs (their ID photo, as on the chip); 0002's is somebody else's.
LISTED = {0: photo("Abdullah_Gul", CHIP), 1: LFW / "Ana_Palacio" / "Ana_Palacio_0005.jpg"}


def list_file(slots: dict[str, str], names: dict[str, str] | None = None) -> dict:
    today = datetime.now(ZONE).date()
    rows = [[number, (names or {}).get(number, name), personal, birth, "B", "lý thuyết", today, slots[number], ROOM]
            for number, (name, personal, birth, _, _) in PEOPLE.items()]
    book = xlsx(rows, photos={i: path.read_bytes() for i, path in LISTED.items()})
    return {"site": "centre-1", "filename": "danh-sach.xlsx", "content": base64.b64encode(book).decode()}


def card_of(pki, number: str) -> SoftwareCard:
    _, personal, birth, expiry, person = PEOPLE[number]
    issued = issue_card(pki, chip_jpeg(photo(person, CHIP)), document=personal[-9:], birth=f"{birth:%y%m%d}",
                        expiry=expiry, citizen_number=personal, surname="NGUYEN", given="CANDIDATE")
    return SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("exam-day"), new_db("exam_day"))
    s.add_device("door-2", "centre-1", kind="kiosk")
    for seat in ("1", "2"):
        s.add_device(f"seat-{seat}", "centre-1", kind="exam")
    yield s
    s.close()


@pytest.fixture(scope="module")
def trusted(stack, pki):
    """The test PKI's cards, trusted by this module's gateway (the admin's `facegate card trust add`)."""
    TrustStore(stack.gateway.trust_dir).add(pki.csca_pem())
    return pki


@pytest.fixture(scope="module")
def door(request, stack, kiosk_config, pack, virtual_reader):
    """The module's door (`DOOR`): a kiosk in this process, its card on the virtual reader behind pcscd."""
    device = KioskAtTheCounter(stack.devices[request.module.DOOR], kiosk_config, pack, virtual_reader)
    yield device
    device.close()


def at_the_door(stack, door, card, face, tmp_path) -> dict:
    """A candidate puts `card` on the door's reader with `face` before its camera: the finished read."""
    door.card = card
    door.video = before_the_camera(face, tmp_path / f"{face.stem}.avi")
    r = stack.post("/api/kiosks/door-2/checkins", {}, role="supervisor")
    assert r.status_code == 202, r.text
    read = r.json()["read"]

    def done():
        s = stack.get(f"/api/kiosks/door-2/reads/{read}", role="supervisor").json()
        return s if s["stage"] in ("face", "failed") or s["refusal"] else None
    return wait_for(done, 60, f"the door's read {read}")


def day(stack) -> dict[str, dict]:
    today = datetime.now(ZONE).date()
    rows = stack.get("/api/exam/candidates", role="supervisor", site="centre-1", day=str(today)).json()
    return {r["number"]: r for r in rows}


def test_a_day_is_imported_scheduled_and_checked_in_at_the_door_by_chip_and_face(stack, pki, trusted, door, pack,
                                                                                  kiosk_config, tmp_path):
    now = datetime.now(ZONE)
    slot, later = f"{now:%H:%M}", f"{now + timedelta(hours=1):%H:%M}"
    for seat in ("1", "2"):
        assert stack.put(f"/api/devices/seat-{seat}/place", {"room": ROOM, "seat": seat}).status_code == 200
    assert stack.post("/api/exam/candidates/import", list_file(dict.fromkeys(PEOPLE, slot)),
                      role="supervisor").status_code == 200
    full = stack.post("/api/exam/candidates/schedule", {"site": "centre-1", "day": str(now.date())},
                      role="supervisor")
    assert full.status_code == 422 and f"room {ROOM} at {slot}: 3 candidates, 2 free seats" in full.json()["detail"]
    assert stack.store.exams.sessions("centre-1") == []  # nothing written
    # The council moves the third candidate to the next slot; the re-import updates, the schedule seats everyone.
    stack.post("/api/exam/candidates/import", list_file({"0001": slot, "0002": slot, "0003": later}),
               role="supervisor").raise_for_status()
    scheduled = stack.post("/api/exam/candidates/schedule", {"site": "centre-1", "day": str(now.date())},
                           role="supervisor").json()
    assert scheduled == {"scheduled": 3, "already": 0}
    rows = day(stack)
    assert [(rows[n]["seat"], rows[n]["device"], rows[n]["status"]) for n in PEOPLE] == [
        ("1", "seat-1", "waiting"), ("2", "seat-2", "waiting"), ("1", "seat-1", "waiting")]
    # By hand: 0003 to seat 2 (free at their slot); not to seat 1 at 0001's slot.
    moved = stack.post(f"/api/exam/candidates/{rows['0003']['id']}/move", {"device": "seat-2"}, role="supervisor")
    assert moved.status_code == 200 and (moved.json()["device"], moved.json()["seat"]) == ("seat-2", "2"), moved.text
    taken = stack.post(f"/api/exam/candidates/{rows['0003']['id']}/move", {"device": "seat-1", "slot": slot},
                       role="supervisor")
    assert taken.status_code == 409 and "already has a session" in taken.json()["detail"]
    assert day(stack)["0003"]["device"] == "seat-2"
    assert stack.put("/api/kiosks/door-2/setup", {"purpose": "exam", "ticket_days": 0, "mode": "checkin",
                                                  "room": ROOM, "basis": "consent"}).status_code == 200

    # 0001 at the door: their card, their face; nothing typed.
    read = at_the_door(stack, door, card_of(pki, "0001"), photo("Abdullah_Gul", LIVE), tmp_path)
    assert (read["stage"], read["outcome"], read["passive"], read["may_enrol"]) == ("face", "matched", "genuine", True)
    done = stack.post(f"/api/kiosks/door-2/reads/{read['read']}/checkin", {"agree": True}, role="supervisor").json()
    assert done == {"outcome": "checked_in", "name": "Nguyễn Văn An", "number": "0001", "room": ROOM, "seat": "1",
                    "reason": None, "sent": True}
    assert day(stack)["0001"]["status"] == "checked in" and day(stack)["0001"]["checkin_method"] == "chip"

    # 0002's card with 0003's face: not matched, and a supervisor is called.
    read = at_the_door(stack, door, card_of(pki, "0002"), photo("Angelo_Reyes", LIVE), tmp_path)
    assert read["may_enrol"] is False
    refused = stack.post(f"/api/kiosks/door-2/reads/{read['read']}/checkin", {"agree": True},
                         role="supervisor").json()
    assert (refused["outcome"], refused["reason"], refused["number"]) == ("see_supervisor", "not_matched", "0002")
    assert (day(stack)["0002"]["status"], day(stack)["0002"]["checkin_problem"]) == ("waiting", "not_matched")

    # 0002's own card and face: they match, but the list's photo is somebody else's. A supervisor sees to it.
    read = at_the_door(stack, door, card_of(pki, "0002"), photo("Amelie_Mauresmo", LIVE), tmp_path)
    assert read["may_enrol"] is True
    refused = stack.post(f"/api/kiosks/door-2/reads/{read['read']}/checkin", {"agree": True},
                         role="supervisor").json()
    assert (refused["outcome"], refused["reason"]) == ("see_supervisor", "photo_not_matched")
    assert day(stack)["0002"]["checkin_problem"] == "photo_not_matched"

    # 0002 again, refusing face processing: the supervisor checks them in by hand.
    read = at_the_door(stack, door, card_of(pki, "0002"), photo("Amelie_Mauresmo", LIVE), tmp_path)
    refused = stack.post(f"/api/kiosks/door-2/reads/{read['read']}/checkin", {"agree": False},
                         role="supervisor").json()
    assert (refused["outcome"], refused["reason"]) == ("see_supervisor", "face_refused")
    by_hand = stack.post(f"/api/exam/candidates/{day(stack)['0002']['id']}/checkin",
                         {"reason": "face_refused", "note": "Thẻ CCCD đã đối chiếu bằng mắt"}, role="supervisor")
    assert by_hand.status_code == 200 and by_hand.json()["checkin_method"] == "manual", by_hand.text
    assert by_hand.json()["status"] == "checked in"
    assert stack.post(f"/api/exam/candidates/{day(stack)['0002']['id']}/checkin",
                      {"reason": "other", "note": "again"}, role="supervisor").status_code == 409
    # The council corrects 0002's name and sends its list again: their seat and check-in stay.
    again = stack.post("/api/exam/candidates/import", list_file({"0001": slot, "0002": slot, "0003": later},
                                                                {"0002": "Trần Thị Bích"}), role="supervisor")
    assert (again.json()["updated"], again.json()["unchanged"]) == (1, 2)
    corrected = day(stack)["0002"]
    assert (corrected["name"], corrected["status"], corrected["checkin_method"], corrected["seat"]) == (
        "Trần Thị Bích", "checked in", "manual", "2")

    # A card of nobody on the list does not open with any listed key.
    stranger = issue_card(pki, chip_jpeg(photo("Ana_Palacio", CHIP)), document="099000111", birth="010101",
                          expiry="310101", citizen_number="001001000111")
    read = at_the_door(stack, door, SoftwareCard(stranger.files, stranger.document, stranger.birth, stranger.expiry),
                       photo("Ana_Palacio", LIVE), tmp_path)
    assert (read["stage"], read["outcome"]) == ("failed", "refused") and "keys listed" in read["problems"][0]

    # 0001 sits down at seat 1: the device runs the session the gateway sent, checking them against the face
    # taken at the door.
    seat_config = kiosk_config.model_copy(deep=True)
    folder = tmp_path / "seat-1"
    seat_config.events.outbox, seat_config.events.gallery = folder / "outbox.db", folder / "gallery.enc"
    seat = build_exam(seat_config, load_bundle(stack.devices["seat-1"]), pack=pack)
    try:
        ran = seat.run_session(str(before_the_camera(photo("Abdullah_Gul", LIVE), tmp_path / "desk.avi")), wait_s=20)
    finally:
        seat.close(5)
    assert ran is not None and ran.checkin == "passed"
    wait_for(lambda: day(stack)["0001"]["status"] == "finished", 20, "0001's session to finish at the gateway")

    # A second card of someone already checked in (0003's number, 0001's face on the chip and at the door): the face
    # is enrolled under another card, so a supervisor sees to it.
    _, personal, birth, expiry, _ = PEOPLE["0003"]
    twin = issue_card(pki, chip_jpeg(photo("Abdullah_Gul", CHIP)), document=personal[-9:], birth=f"{birth:%y%m%d}",
                      expiry=expiry, citizen_number=personal)
    read = at_the_door(stack, door, SoftwareCard(twin.files, twin.document, twin.birth, twin.expiry),
                       photo("Abdullah_Gul", LIVE), tmp_path)
    elsewhere = stack.post(f"/api/kiosks/door-2/reads/{read['read']}/checkin", {"agree": True},
                           role="supervisor").json()
    assert (elsewhere["outcome"], elsewhere["reason"], elsewhere["number"]) == ("see_supervisor", "face_elsewhere",
                                                                                "0003")

    # The day closes: 0003 never came in; the day's card keys are forgotten now.
    closed = stack.post("/api/exam/candidates/close", {"site": "centre-1", "day": str(now.date())}, role="supervisor")
    assert closed.json() == {"absent": 1, "keys_forgotten": 3}, closed.text
    assert [day(stack)[n]["status"] for n in PEOPLE] == ["finished", "checked in", "absent"]
    assert sql(stack, "SELECT count(*) FROM exam_candidates WHERE document IS NOT NULL") == [(0,)]
    actions = [a for (a,) in sql(stack, "SELECT action FROM audit WHERE action LIKE ? ORDER BY seq", "exam.%")]
    assert {"exam.day_scheduled", "exam.checked_in", "exam.checkin.failed", "exam.checked_in_by_hand",
            "exam.session.sent", "exam.session.moved", "exam.day_closed"} <= set(actions)
    report = stack.get("/api/exam/candidates/report.xlsx", role="supervisor", site="centre-1", day=str(now.date()))
    sheet = load_workbook(io.BytesIO(report.content)).active
    lines = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert list(sheet.iter_rows(min_row=2, max_row=2, values_only=True))[0][:3] == (
        "Candidate number", "Full name", "Class")
    assert lines["0001"][1] == "Nguyễn Văn An" and lines["0001"][7] == "chip card and face"
    assert "card genuine" in lines["0001"][8] and lines["0001"][9] and lines["0001"][13] == "finished"
    assert re.search(r"list photo 0\.\d\d", lines["0001"][8])  # matched to the list's photo too
    assert lines["0002"][7] == "by hand" and "Thẻ CCCD đã đối chiếu bằng mắt" in lines["0002"][8]
    assert lines["0003"][13] == "absent" and not lines["0003"][6]
