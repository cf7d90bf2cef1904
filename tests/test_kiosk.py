"""Self-enrolment from the chip ID card (issue 15), end to end: the kiosk page's API on a real gateway and
Mosquitto, a kiosk device in this process with the real link, a software eMRTD on a virtual reader behind the real
pcscd (the hardware boundary) and a generated camera stream of real faces; then a gate device granted the person
it enrolled."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from conftest import DATA, SHARED
from edge.eval.synthetic import background, paste, portrait, write_video
from edge.node.kiosk_node import build_kiosk
from edge.settings import EdgeConfig
from edge.vision.camera import Camera
from emrtd.checks.trust import TrustStore
from emrtd_card import SoftwareCard, TestPki, issue_card, pace_info
from gateway.i18n import catalogue
from stack import REPO, Stack, sql, wait_for
from test_pages import SCREENS, accessibility_problems, login, new_page, shot
from wire.bundle import load_bundle

LFW = DATA / "faces" / "lfw-devtest" / "images"
PERSON = LFW / "Abdullah_Gul"
CHIP_PHOTO, LIVE_PHOTO = PERSON / "Abdullah_Gul_0013.jpg", PERSON / "Abdullah_Gul_0014.jpg"
STRANGER = LFW / "AJ_Lamas" / "AJ_Lamas_0001.jpg"
WIDTH, HEIGHT, FPS = 960, 540, 15.0


def before_the_camera(photo, path, seconds: float = 4.0):
    """A person standing before the kiosk's camera (a wall, the face moving a little), as a video file."""
    face, wall = portrait(photo, 480), background(WIDTH, HEIGHT)

    def frame(i: int) -> np.ndarray:
        image = wall.copy()
        paste(image, face[:HEIGHT - 30], (round(240 + 2 * np.sin(i)), round(30 + 2 * np.cos(i))))
        return image
    return write_video(path, (frame(i) for i in range(int(seconds * FPS))), FPS)


def chip_jpeg(photo) -> bytes:
    return cv2.imencode(".jpg", cv2.imread(str(photo)), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("kiosk"), new_db("kiosk"))
    s.add_device("kiosk-1", "site-a", kind="kiosk")
    s.add_device("gate-1", "site-a", kind="gate")
    yield s
    s.close()


@pytest.fixture(scope="module")
def pki(stack):
    pki = TestPki.create()
    TrustStore(stack.gateway.trust_dir).add(pki.csca_pem())  # the admin's `facegate card trust add`
    return pki


@pytest.fixture(scope="module")
def kiosk_config(config, tmp_path_factory):
    cfg = config.model_copy(deep=True)
    cfg.models.search_paths = [*cfg.models.search_paths, SHARED / "models" / "minifasnet"]
    folder = tmp_path_factory.mktemp("kiosk-1")
    cfg.events.outbox, cfg.events.gallery = folder / "outbox.db", folder / "gallery.enc"
    return cfg


class KioskAtTheCounter:
    """The kiosk as its builder makes it: its real link to the broker, a card on its PC/SC reader -- pyscard, pcscd
    and the virtual reader (tests/virtual_reader.py), as a counter's NFC reader -- and a person before its camera
    (both set by the test before each read)."""

    def __init__(self, bundle_path, config: EdgeConfig, pack, reader):
        self.reader = reader
        self.video = None
        self.device = build_kiosk(config, load_bundle(bundle_path), None, pack=pack,
                                  camera=lambda: Camera(str(self.video)))
        self.link, self.kiosk = self.device.link, self.device.kiosk

    @property
    def card(self) -> SoftwareCard | None:
        return self.reader.card

    @card.setter
    def card(self, card: SoftwareCard) -> None:
        self.reader.insert(card)

    def close(self) -> None:
        self.kiosk.stop()
        self.link.close(2.0)
        self.reader.remove()


@pytest.fixture(scope="module")
def kiosk(stack, kiosk_config, pack, virtual_reader):
    device = KioskAtTheCounter(stack.devices["kiosk-1"], kiosk_config, pack, virtual_reader)
    # The gateway sends a read only to a kiosk online (409 before it has connected).
    wait_for(lambda: stack.get("/api/kiosks/kiosk-1/setup", role="operator").json()["online"], 30, "kiosk-1 online")
    yield device
    device.close()


def read_card(stack, card, role="operator", **fields):
    """Ask kiosk-1 to read `card` as the page does: the card's details and the ticket's end (a week unless given)."""
    week = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    body = {"document": card.document, "birth": card.birth, "expiry": card.expiry, "valid_until": week} | fields
    r = stack.post("/api/kiosks/kiosk-1/reads", body, role=role)
    assert r.status_code == 202, r.text
    return r.json()["read"]


def finished(stack, read, timeout=90):
    """The read once the kiosk is done with it: failed, face matched or not, or a card it would not go on with."""
    def done():
        r = stack.get(f"/api/kiosks/kiosk-1/reads/{read}", role="operator").json()
        ended = r["stage"] in ("face", "failed") or \
            r["outcome"] in ("tampered", "clone_suspected", "expired_document")
        return r if ended else None
    return wait_for(done, timeout, f"card read {read} to finish")


def test_a_card_and_its_holders_face_enrol_them_and_a_gate_grants_them_seconds_later(stack, pki, kiosk, tmp_path,
                                                                                     kiosk_config):
    issued = issue_card(pki, chip_jpeg(CHIP_PHOTO), surname="NGUYEN", given="VAN AN")
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    kiosk.video = before_the_camera(LIVE_PHOTO, tmp_path / "live.avi")
    valid_until = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    read = read_card(stack, issued, valid_until=valid_until.isoformat())
    status = finished(stack, read)
    assert (status["stage"], status["outcome"], status["passive"]) == ("face", "matched", "genuine"), status
    assert status["name"] == "NGUYEN VAN AN" and status["may_enrol"] and not status["already_enrolled"]
    assert status["score"] >= status["threshold"] and status["liveness"] is not None

    consented = time.monotonic()
    r = stack.post(f"/api/kiosks/kiosk-1/reads/{read}/decision", {"agree": True}, role="operator")
    assert r.status_code == 200, r.text
    assert r.json() == {"outcome": "enrolled", "subject": "nguyen-van-an"}

    # Kept: the subject with the DG1 name, the card number's keyed hash, one template, the consent with the
    # ticket's validity. Not kept: the read, its card events (their sealed DG1 and SOD), any portrait.
    [(name, card_hash)] = sql(stack, "SELECT display_name, id_card_hash FROM subjects WHERE id = 'nguyen-van-an'")
    assert name == "NGUYEN VAN AN" and card_hash == stack.secrets.id_card_hash("001090001344")
    [(channel, expires_at, sites)] = sql(stack, "SELECT channel, expires_at, sites FROM consents "
                                                "WHERE subject = 'nguyen-van-an'")
    assert channel == "kiosk" and expires_at.startswith(valid_until.strftime("%Y-%m-%dT%H:%M:%S"))
    assert json.loads(sites) == ["site-a"]
    assert sql(stack, "SELECT count(*) FROM card_reads") == [(0,)]
    assert sql(stack, "SELECT count(*) FROM events WHERE kind = 'card'") == [(0,)]
    audit = [e for e in stack.get("/api/audit", role="auditor", limit=200).json()
             if e["action"].startswith(("card.", "subject."))]
    assert [(e["action"], e["actor"]) for e in reversed(audit)] == [
        ("card.read_requested", "user:operator-1"), ("card.read", "device:kiosk-1"),
        ("subject.enrolled", "user:operator-1"), ("card.read_closed", "user:operator-1")]
    assert audit[2]["detail"]["outcome"] == "genuine" and audit[2]["detail"]["by"] == "operator-1"
    assert "001090001344" not in json.dumps(audit) and "NGUYEN" not in json.dumps(audit)
    # The card events were deleted on purpose, and the chain says which: it still verifies.
    assert stack.get("/api/audit/verify", role="auditor").json()["ok"] is True

    # The gate at the same site receives the person with its next gallery and grants them.
    workdir = tmp_path / "gate-1"
    workdir.mkdir()
    (workdir / "gate.toml").write_text(
        f'[models]\ndir = "{kiosk_config.models.dir}"\n'
        f'search_paths = [{", ".join(repr(str(p)) for p in kiosk_config.models.search_paths)}]\n\n'
        f'[events]\noutbox = "{workdir / "outbox.db"}"\ngallery = "{workdir / "gallery.enc"}"\ngallery_wait_s = 30\n')
    gate = subprocess.run([sys.executable, "-m", "facegate", "edge", "run", "--bundle", str(stack.devices["gate-1"]),
                           "--source", str(before_the_camera(LIVE_PHOTO, tmp_path / "gate.avi")),
                           "--config", str(workdir / "gate.toml")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert gate.returncode == 0, gate.stderr
    granted = [json.loads(line) for line in gate.stdout.splitlines()]
    assert [(v["verdict"], v["subject"]) for v in granted] == [("granted", "nguyen-van-an")]
    wait_for(lambda: stack.events(kind="verdict", device="gate-1"), 30, "the gate's verdict at the gateway")
    print(f"consent -> granted verdict stored: {time.monotonic() - consented:.1f} s")

    # The same person at the counter again with a new ticket: their consent runs longer, no second one.
    later = valid_until + timedelta(days=6)
    status = finished(stack, read_card(stack, issued, valid_until=later.isoformat()))
    assert status["outcome"] == "matched" and status["already_enrolled"], status["problems"]
    r = stack.post(f"/api/kiosks/kiosk-1/reads/{status['read']}/decision", {"agree": True}, role="operator")
    assert r.json() == {"outcome": "extended", "subject": "nguyen-van-an"}
    [(expires_at,)] = sql(stack, "SELECT expires_at FROM consents WHERE subject = 'nguyen-van-an'")
    assert expires_at.startswith(later.strftime("%Y-%m-%dT%H:%M:%S"))


def card_qr_then_face(text: str, photo, path, seconds: float = 4.0):
    """The person holding their card's QR code up to the camera for a second, then standing before it."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.cvtColor(cv2.resize(code, (300, 300), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    face, wall = portrait(photo, 480), background(WIDTH, HEIGHT)

    def frame(i: int) -> np.ndarray:
        image = wall.copy()
        if i < FPS:
            paste(image, code, (330, 120))
        else:
            paste(image, face[:HEIGHT - 30], (240, 30))
        return image
    return write_video(path, (frame(i) for i in range(int(seconds * FPS))), FPS)


def test_a_card_opened_with_the_key_from_its_qr_code_needs_nothing_typed(stack, pki, kiosk, tmp_path):
    """Issue 26, part 3: the page asks without details; the kiosk reads the card's QR code with its camera and
    tries the expiry dates the card's rules allow, one access attempt each."""
    issued = issue_card(pki, chip_jpeg(CHIP_PHOTO), document="090001501", citizen_number="001090001501",
                        birth="900315", expiry="500315")  # to 60: the second key the rules give (issued at 31)
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    qr = "001090001501|123456789|Nguyễn Văn An|15031990|Nam|12 Hàng Bạc, Hà Nội|01052021"
    kiosk.video = card_qr_then_face(qr, LIVE_PHOTO, tmp_path / "qr.avi")
    week = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    r = stack.post("/api/kiosks/kiosk-1/reads", {"valid_until": week}, role="operator")
    assert r.status_code == 202, r.text
    status = finished(stack, r.json()["read"])
    assert (status["stage"], status["outcome"], status["passive"]) == ("face", "matched", "genuine"), status
    [entry] = [e for e in stack.get("/api/audit", role="auditor", action="card.read", limit=5).json()
               if e["target"] == status["read"]]
    assert entry["detail"]["access_attempts"] == 2  # 2030 (40) refused, then 2050 (60)
    assert 0 < entry["detail"]["read_ms"] < 30_000  # the QR code, both attempts and the read, timed
    assert sum(apdu[1] == 0x82 for apdu in kiosk.card.received) == 2
    assert stack.post(f"/api/kiosks/kiosk-1/reads/{status['read']}/decision", {"agree": False},
                      role="operator").status_code == 200
    # Without the QR code in view, the read ends saying so.
    kiosk.video = before_the_camera(LIVE_PHOTO, tmp_path / "no-qr.avi")
    kiosk_qr_s, kiosk.kiosk.config.kiosk.qr_s = kiosk.kiosk.config.kiosk.qr_s, 2.0
    try:
        r = stack.post("/api/kiosks/kiosk-1/reads", {"valid_until": week}, role="operator")
        status = finished(stack, r.json()["read"])
    finally:
        kiosk.kiosk.config.kiosk.qr_s = kiosk_qr_s
    assert (status["stage"], status["outcome"]) == ("failed", "no_qr")
    assert stack.post(f"/api/kiosks/kiosk-1/reads/{status['read']}/decision", {"agree": False},
                      role="operator").status_code == 200  # the person leaves: nothing of the read stays


def test_another_persons_face_with_the_card_is_refused_and_nothing_is_written(stack, pki, kiosk, tmp_path):
    issued = issue_card(pki, chip_jpeg(CHIP_PHOTO), document="203001345", citizen_number="001090001345",
                        surname="TRAN", given="THI BINH", sex="F")
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    kiosk.video = before_the_camera(STRANGER, tmp_path / "stranger.avi")
    subjects = sql(stack, "SELECT count(*) FROM subjects")
    read = read_card(stack, issued)
    status = finished(stack, read)
    assert (status["stage"], status["outcome"], status["passive"]) == ("face", "mismatch", "genuine"), status
    assert status["score"] < status["threshold"] and not status["may_enrol"]
    assert status["refusal"] == "not_matched"
    r = stack.post(f"/api/kiosks/kiosk-1/reads/{read}/decision", {"agree": True}, role="operator")
    assert r.status_code == 409 and r.json()["detail"] == "the live face was not matched to the card"
    assert sql(stack, "SELECT count(*) FROM subjects") == subjects
    r = stack.post(f"/api/kiosks/kiosk-1/reads/{read}/decision", {"agree": False}, role="operator")
    assert r.json() == {"outcome": "declined", "subject": None}
    assert sql(stack, "SELECT count(*) FROM card_reads") == [(0,)]
    assert sql(stack, "SELECT count(*) FROM subjects") == subjects


def test_wrong_details_a_tampered_card_an_unknown_issuer_a_corrupt_portrait_and_an_expired_card_each_say_why(
        stack, pki, kiosk, tmp_path):
    issued = issue_card(pki, chip_jpeg(CHIP_PHOTO), document="203001346", citizen_number="001090001346")
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    status = finished(stack, read_card(stack, issued, birth="900316"))
    assert (status["stage"], status["outcome"]) == ("failed", "refused")
    assert status["problems"] == ["the card did not accept these details (document number, birth date, "
                                  "expiry date)"]

    altered = dict(issued.files)
    altered["DG2"] = altered["DG2"][:-10] + bytes(10)
    kiosk.card = SoftwareCard(altered, issued.document, issued.birth, issued.expiry)
    status = finished(stack, read_card(stack, issued))
    assert (status["stage"], status["outcome"], status["passive"]) == ("read", "tampered", "tampered")
    assert status["refusal"] == "tampered"

    # The same signed files on a chip without the keys DG14 and DG15 name: a clone, refused as a tampered card.
    cloned = issue_card(pki, chip_jpeg(CHIP_PHOTO), document="203001350", citizen_number="001090001350",
                        chip_authentication=2, active_authentication="ecdsa")
    kiosk.card = SoftwareCard(cloned.files, cloned.document, cloned.birth, cloned.expiry, chip_keys=cloned.chip_keys,
                              clone=True, pace=(pace_info(),))
    status = finished(stack, read_card(stack, cloned))
    assert (status["stage"], status["outcome"], status["passive"], status["refusal"]) == \
        ("read", "clone_suspected", "clone_suspected", "clone_suspected")
    assert status["problems"] == ["the chip did not pass Chip Authentication, which its DG14 offers",
                                  "the chip did not pass Active Authentication, which its DG15 offers"]

    foreign = issue_card(TestPki.create(country="XX", common="Unknown CSCA"), chip_jpeg(CHIP_PHOTO),
                         document="203001347", citizen_number="001090001347")
    kiosk.card = SoftwareCard(foreign.files, foreign.document, foreign.birth, foreign.expiry)
    kiosk.video = before_the_camera(LIVE_PHOTO, tmp_path / "live.avi")
    status = finished(stack, read_card(stack, foreign))
    assert status["passive"] == "untrusted_issuer"
    assert status["refusal"] == "untrusted_issuer"

    corrupt = issue_card(pki, chip_jpeg(CHIP_PHOTO)[:400], document="203001348", citizen_number="001090001348")
    kiosk.card = SoftwareCard(corrupt.files, corrupt.document, corrupt.birth, corrupt.expiry)
    status = finished(stack, read_card(stack, corrupt))
    assert (status["stage"], status["outcome"]) == ("failed", "portrait_unusable"), status["problems"]

    expired = issue_card(pki, chip_jpeg(CHIP_PHOTO), document="203001349", citizen_number="001090001349",
                         expiry="250101")
    kiosk.card = SoftwareCard(expired.files, expired.document, expired.birth, expired.expiry)
    status = finished(stack, read_card(stack, expired))
    assert (status["passive"], status["refusal"]) == ("expired_document", "expired_document")
    assert status["problems"] == ["the document expired on 01/01/2025"]

    r = stack.post("/api/kiosks/kiosk-1/reads", {"document": "20300134*", "birth": "900315", "expiry": "351231"},
                   role="operator")
    assert r.status_code == 422 and "document number" in r.text
    assert stack.post("/api/kiosks/gate-1/reads", {"document": "203001344", "birth": "900315", "expiry": "351231"},
                      role="operator").status_code == 422
    assert stack.post("/api/kiosks/kiosk-1/reads", {"document": "203001344", "birth": "900315", "expiry": "351231"},
                      role="auditor").status_code == 403
    outcomes = [e["detail"]["outcome"] for e in stack.get("/api/audit", role="auditor", action="card.read",
                                                          limit=50).json()]
    assert {"refused", "tampered", "clone_suspected", "untrusted_issuer", "portrait_unusable",
            "expired_document"} <= set(outcomes)
    protocols = {e["detail"].get("protocol") for e in stack.get("/api/audit", role="auditor", action="card.read",
                                                                 limit=50).json()}
    assert {"BAC", "PACE ECDH-GM AES-128 brainpoolP256r1"} <= protocols


# --- the kiosk page in Chromium: the person's own screen, in Vietnamese and English ---------------------------

# One person before the camera each, none enrolled by another test: LFW people whose first photo makes a chip
# portrait and whose second, held before the camera, shows one face that MiniFASNet takes for a live one; the
# name in DG1 (ASCII) and as the card writes it in DG13.
PAGE_PEOPLE = {("vi", "desktop"): ("Mario_Cipollini", "TRAN", "THI BINH", "Trần Thị Bình", "203001401"),
               ("en", "desktop"): ("Susie_Castillo", "LE", "THI HOA", "Lê Thị Hoa", "203001402"),
               ("vi", "phone"): ("Pierre_Boulanger", "PHAM", "VAN DUC", "Phạm Văn Đức", "203001403")}


@pytest.mark.backends("sqlite")  # the page is the subject (conftest.py: BACKENDS)
@pytest.mark.parametrize("lang, screen", [("vi", "desktop"), ("en", "desktop"), ("vi", "phone")])
def test_a_visitor_enrols_at_the_kiosk_page_reading_the_consent_in_their_language(browser, stack, pki, kiosk,
                                                                                   tmp_path, lang, screen):
    t = catalogue(lang).gettext
    folder, surname, given, name, document = PAGE_PEOPLE[lang, screen]
    photos = sorted((LFW / folder).iterdir())
    # A 2024 card (PACE, Chip and Active Authentication), an older one with the anti-clone checks, one with neither.
    chip, pace = {("vi", "desktop"): ({"chip_authentication": 2, "active_authentication": "ecdsa"}, (pace_info(),)),
                  ("en", "desktop"): ({"chip_authentication": 1, "ca_version": 1, "active_authentication": "rsa"}, ()),
                  ("vi", "phone"): ({}, ())}[lang, screen]
    issued = issue_card(pki, chip_jpeg(photos[0]), document=document, citizen_number="001090" + document[-6:],
                        surname=surname, given=given, full_name=name, birth="851120", expiry="330615", **chip)
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, chip_keys=issued.chip_keys,
                              pace=pace)
    kiosk.video = before_the_camera(photos[1], tmp_path / "live.avi")
    page = new_page(browser, stack, lang, **SCREENS[screen])
    try:
        login(page, stack, "operator")
        page.goto(stack.gateway.base_url + "/kiosk")
        page.get_by_label(t("Document number")).fill(document)
        page.get_by_label(t("Date of birth")).fill("20/11/1985")
        page.get_by_label(t("Card valid until")).fill("15/06/2033")
        shot(page, f"kiosk-card-{lang}-{screen}")
        page.get_by_role("button", name=t("Read my card")).click()
        expect(page.locator("#consent")).to_be_visible(timeout=60_000)
        expect(page.locator("#facts")).to_contain_text(name)  # as the card writes it (DG13), not DG1's ASCII
        expect(page.locator("#facts")).to_contain_text(t("genuine"))
        expect(page.locator("#consent-title")).to_have_text(t("Consent to use your face at {site}", site="site-a"))
        expect(page.locator("#consent-text")).to_contain_text(t("Your rights"))
        assert page.evaluate("document.documentElement.scrollWidth") <= SCREENS[screen]["width"]
        shot(page, f"kiosk-consent-{lang}-{screen}")
        page.get_by_role("button", name=t("I agree")).click()
        expect(page.locator("#done-text")).to_have_text(
            t("Thank you, {name}: you are enrolled. You can use the gate now.", name=name))
        shot(page, f"kiosk-done-{lang}-{screen}")
    finally:
        page.context.close()
    [(subject, display)] = sql(stack, "SELECT id, display_name FROM subjects WHERE id_card_hash = ?",
                               stack.secrets.id_card_hash("001090" + document[-6:]))
    assert display == name
    listed = {s["id"]: s for s in stack.get("/api/subjects", role="admin").json()}
    assert listed[subject]["display_name"] == name  # what the admin's people page shows


@pytest.mark.backends("sqlite")  # the page is the subject (conftest.py: BACKENDS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_kiosk_page_says_why_a_card_was_refused_lets_the_person_correct_it_and_has_no_serious_accessibility_problem(
        browser, stack, pki, kiosk, tmp_path, lang):
    t = catalogue(lang).gettext
    photos = sorted((LFW / "Keith_Bogans").iterdir())
    issued = issue_card(pki, chip_jpeg(photos[0]), document="203001499", citizen_number="001090001499")
    kiosk.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    kiosk.video = before_the_camera(photos[1], tmp_path / "live.avi")
    [(reads_before,)] = sql(stack, "SELECT count(*) FROM card_reads")
    page = new_page(browser, stack, lang, bypass_csp=True)  # axe is a script of the test's own
    try:
        login(page, stack, "operator")
        page.goto(stack.gateway.base_url + "/kiosk")
        page.wait_for_load_state("networkidle")
        assert accessibility_problems(page) == []
        page.get_by_label(t("Document number")).fill(issued.document)
        page.get_by_label(t("Date of birth")).fill("16/03/1990")  # the card says 15/03/1990
        page.get_by_label(t("Card valid until")).fill("31/12/2035")
        page.get_by_role("button", name=t("Read my card")).click()
        expect(page.locator("#problem")).to_have_text(t("The card did not accept these details. Check the document "
                                                        "number and the two dates, then try again."), timeout=30_000)
        expect(page.get_by_role("button", name=t("Try again"))).to_be_focused()
        assert accessibility_problems(page) == []
        shot(page, f"kiosk-refused-{lang}")
        page.get_by_role("button", name=t("Try again")).click()  # back to the form, as typed, to correct it
        expect(page.get_by_label(t("Document number"))).to_have_value(issued.document)
        page.get_by_label(t("Date of birth")).fill("15/03/1990")
        page.get_by_role("button", name=t("Read my card")).click()
        expect(page.locator("#consent")).to_be_visible(timeout=60_000)
        assert accessibility_problems(page) == []
        page.get_by_role("button", name=t("I do not agree")).click()
        expect(page.locator("#done-text")).to_have_text(t("Nothing was kept. Please see the staff to enter."))
    finally:
        page.context.close()
    assert sql(stack, "SELECT count(*) FROM subjects WHERE id_card_hash = ?",
               stack.secrets.id_card_hash("001090001499")) == [(0,)]
    assert sql(stack, "SELECT count(*) FROM card_reads") == [(reads_before,)]  # the refused read went with the retry


# --- a kiosk that is a kiosk (issue 26): provisioned on the admin page, its own login, the visitor's screen ------

KIOSK_SCREEN = dict(width=1080, height=1920)  # a portrait touchscreen on a stand
KIOSK_PASSWORD = "kiosk-9-counter-pass"


def kiosk_login(page, stack, device: str) -> None:
    page.goto(stack.gateway.base_url + "/login")
    page.fill("input[name=username]", device)
    page.fill("input[name=password]", KIOSK_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/kiosk"))
    page.wait_for_load_state("networkidle")


def nothing_of_the_staffs(page, stack) -> None:
    """The visitor's screen: no page links, no staff name or role, no log out, no kiosk to choose, no ticket."""
    assert page.locator("header nav a[href^='/gate'], header nav a[href^='/admin'], #logout, .who").count() == 0
    assert page.locator("select[name=kiosk], input[name=valid_until], #setup").count() == 0
    words = catalogue(page.locator("html").get_attribute("lang")).gettext
    shown = page.locator("body").inner_text()
    assert not [w for w in ("operator-1", "admin-1", words("operator"), words("admin"), words("log out"))
                if w in shown], shown
    page.goto(stack.gateway.base_url + "/gate")  # any other page: back to the kiosk
    page.wait_for_url(lambda url: url.endswith("/kiosk"))
    page.wait_for_load_state("networkidle")


@pytest.mark.backends("sqlite")  # the page is the subject (conftest.py: BACKENDS)
def test_a_kiosk_provisioned_on_the_admin_page_shows_its_visitor_nothing_of_the_staffs_and_goes_back_to_the_start(
        browser, stack, pki, kiosk_config, pack, virtual_reader, tmp_path_factory, tmp_path):
    """The admin provisions kiosk-9 (device, login, set-up: the gates, tickets to 23:59 tomorrow); its screen,
    signed in as kiosk-9, enrols a visitor by the card's QR code in Vietnamese at a kiosk's size and one who says no
    in English on a phone, each time back at the start by itself; then its device goes offline mid-read and the
    screen says so and starts again. axe-core clean at each step."""
    t = catalogue("en").gettext
    page = new_page(browser, stack, "en")
    try:
        login(page, stack, "admin")
        page.goto(stack.gateway.base_url + "/admin")
        page.get_by_text(t("Provision a device")).click()
        form = page.locator("#provision")
        form.get_by_label(t("site")).fill("site-a")
        form.get_by_label(t("device id")).fill("kiosk-9")
        form.get_by_label(t("kind")).select_option("kiosk")
        form.get_by_label(t("broker")).fill(stack.broker_url)
        form.get_by_label(t("login password")).fill(KIOSK_PASSWORD)
        form.get_by_label(t("ticket days (0: until 23:59 today)")).fill("1")
        form.get_by_role("button", name=t("provision")).click()
        expect(page.locator("#kiosk-login")).to_contain_text("kiosk-9")
        bundle = tmp_path / "kiosk-9.toml"
        bundle.write_text(page.locator("#bundle").text_content())
        expect(page.locator("#users tr[data-user='kiosk-9']")).to_contain_text(f"{t('kiosk')} (kiosk-9)")
    finally:
        page.context.close()
    setup = stack.get("/api/kiosks/kiosk-9/setup", role="operator").json()
    assert (setup["purpose"], setup["ticket_days"]) == ("gate", 1)

    config = kiosk_config.model_copy(deep=True)
    folder = tmp_path_factory.mktemp("kiosk-9")
    config.events.outbox, config.events.gallery = folder / "outbox.db", folder / "gallery.enc"
    device = KioskAtTheCounter(bundle, config, pack, virtual_reader)
    closed = False
    try:
        wait_for(lambda: stack.get("/api/kiosks/kiosk-9/setup", role="operator").json()["online"], 30,
                 "kiosk-9 online")
        # A visitor in Vietnamese at the kiosk's own screen: the key from the card's QR code, nothing typed.
        vi = catalogue("vi").gettext
        photos = sorted((LFW / "Gerhard_Schroeder").iterdir())
        issued = issue_card(pki, chip_jpeg(photos[0]), document="090001509", citizen_number="001090001509",
                            birth="900315", expiry="300315", full_name="Đỗ Văn Hùng", chip_authentication=2,
                            active_authentication="ecdsa")
        device.card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry,
                                   chip_keys=issued.chip_keys, pace=(pace_info(),))
        device.video = card_qr_then_face("001090001509|123456789|Đỗ Văn Hùng|15031990|Nam|Hà Nội|10062021",
                                         photos[1], tmp_path / "qr-then-face.avi", seconds=6)
        page = new_page(browser, stack, "vi", bypass_csp=True, **KIOSK_SCREEN)
        kiosk_login(page, stack, "kiosk-9")
        nothing_of_the_staffs(page, stack)
        expect(page.locator("#ticket")).to_contain_text(vi("the gates of this site"))
        assert accessibility_problems(page) == []
        shot(page, "kiosk-login-start-vi")
        page.get_by_role("button", name=vi("Show my card's QR code to the camera")).click()
        expect(page.locator("#consent")).to_be_visible(timeout=60_000)
        expect(page.locator("#facts")).to_contain_text("Đỗ Văn Hùng")
        assert accessibility_problems(page) == []
        page.get_by_role("button", name=vi("I agree")).click()
        expect(page.locator("#done-text")).to_contain_text("Đỗ Văn Hùng")
        expect(page.locator("#countdown")).to_contain_text(vi("Back to the start in {n} s.", n=3))
        assert accessibility_problems(page) == []
        expect(page.locator("#card")).to_be_visible(timeout=15_000)  # by itself, for the next person
        [(until,)] = sql(stack, "SELECT c.expires_at FROM consents c JOIN subjects s ON s.id = c.subject "
                                "WHERE s.display_name = ?", "Đỗ Văn Hùng")
        assert until == setup["valid_until"]  # the kiosk's set-up, not the visitor's
        page.context.close()

        # A visitor in English on a phone, who types the details and says no; the kiosk goes back to Vietnamese.
        en = catalogue("en").gettext
        other = sorted((LFW / "Keith_Bogans").iterdir())
        refused = issue_card(pki, chip_jpeg(other[0]), document="203001510", citizen_number="001090001510")
        device.card = SoftwareCard(refused.files, refused.document, refused.birth, refused.expiry)
        device.video = before_the_camera(other[1], tmp_path / "live.avi")
        page = new_page(browser, stack, "vi", bypass_csp=True, **SCREENS["phone"])
        kiosk_login(page, stack, "kiosk-9")
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        nothing_of_the_staffs(page, stack)
        page.get_by_label(en("Document number")).fill(refused.document)
        page.get_by_label(en("Date of birth")).fill("15/03/1990")
        page.get_by_label(en("Card valid until")).fill("31/12/2035")
        assert page.evaluate("document.documentElement.scrollWidth") <= SCREENS["phone"]["width"]
        assert accessibility_problems(page) == []
        shot(page, "kiosk-login-phone-en")
        page.get_by_role("button", name=en("Read my card")).click()
        expect(page.locator("#consent")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name=en("I do not agree")).click()
        expect(page.locator("#done-text")).to_have_text(en("Nothing was kept. Please see the staff to enter."))
        page.wait_for_url(lambda url: url.endswith("/kiosk?lang=vi"), timeout=15_000)  # the next person's start
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        page.context.close()

        # The kiosk device stops taking reads, a visitor starts one, and the device goes offline: the screen says
        # so and starts again, and says the kiosk is not available until it is back.
        page = new_page(browser, stack, "vi", bypass_csp=True, **KIOSK_SCREEN)
        kiosk_login(page, stack, "kiosk-9")
        device.kiosk.stop()
        page.get_by_role("button", name=vi("Show my card's QR code to the camera")).click()
        expect(page.locator("#check")).to_be_visible()
        device.link.close(2.0)
        closed = True
        expect(page.locator("#problem")).to_have_text(
            vi("This kiosk is not available right now. Please ask at the counter."), timeout=30_000)
        assert accessibility_problems(page) == []
        shot(page, "kiosk-login-offline-vi")
        expect(page.locator("#card")).to_be_visible(timeout=15_000)
        expect(page.locator("#offline")).to_be_visible(timeout=10_000)
        expect(page.get_by_role("button", name=vi("Show my card's QR code to the camera"))).to_be_disabled()
        assert accessibility_problems(page) == []
        page.context.close()
    finally:
        if not closed:
            device.close()
        else:
            virtual_reader.remove()
    answer = stack.post("/api/kiosks/kiosk-9/reads", {}, role="operator")
    assert answer.status_code == 409 and "offline" in answer.json()["detail"]
