"""A tourist site's day (issue 28), end to end: the site's ticketing system sells through the API a day ticket for
gate 1 and a group of five; a visitor who refuses face processing comes in with the printed QR ticket, shown to
the gate's own camera (a live network camera whose picture the test holds up), and a copy of a ticket is refused
on its second use; the site reaches its capacity and the in-lane answers `full` until someone leaves by the
out-lane; the live page, the numbers page and their XLSX show the day -- in Vietnamese and English, on a desktop
and a phone.

One gate node runs the real loop (face step and QR reader on each camera, doors on relay boards), linked to a
real gateway and Mosquitto: the day is played once for the module, and each page is read after it.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from door_standins import RelayBoard
from edge.node.gate_node import build_gate
from edge.settings import CameraSettings, DoorSettings
from edge.eval.synthetic import background
from gateway.i18n import catalogue
from gateway.services.devices.registry import add_site
from gateway.services.security.auth import Auth
from network_camera import NetworkCamera
from stack import PASSWORD, Stack, wait_for
from test_pages import login, new_page, shot
from wire.bundle import load_bundle

pytestmark = pytest.mark.backends("sqlite")  # the pages are the subject (conftest.py: BACKENDS)

SITE, NAME = "hoi-an", "Phố cổ Hội An"
WIDTH, HEIGHT = 960, 540
SCREENS = {"desktop": dict(width=1366, height=768), "phone": dict(width=390, height=844, is_mobile=True)}


def holding(ticket_png: bytes | None) -> list[np.ndarray]:
    """What the camera sees: the wall, with the printed ticket held up before it (about 190 px across, as a 30 mm
    code is at arm's length from a gate camera), swaying a little."""
    wall = background(WIDTH, HEIGHT, seed=3)
    if ticket_png is None:
        return [wall]
    code = cv2.imdecode(np.frombuffer(ticket_png, np.uint8), cv2.IMREAD_GRAYSCALE)
    code = cv2.resize(code, (190, 190), interpolation=cv2.INTER_AREA)
    frames = []
    for dx in (0, 2, 4, 2):
        frame = wall.copy()
        frame[170:360, 380 + dx:570 + dx] = code[..., None]
        frames.append(frame)
    return frames


class Day:
    """The day as it was played: the passes sold, and each verdict the gate gave (by the ticket shown)."""

    def __init__(self):
        self.day_pass: dict = {}
        self.group: list[dict] = []
        self.verdicts: dict[str, dict] = {}  # step -> the stored verdict event
        self.doors: list[dict] = []  # the gate's door events
        self.switched: dict[str, list[bool]] = {}  # lane -> what its relay was told, in order


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("site-day"), new_db("site_day"))
    add_site(s.store, SITE, NAME)
    s.add_device("gate-1", SITE)
    Auth(s.store).add_user("ve-hoi-an", "ticketing", PASSWORD, site=SITE)
    yield s
    s.close()


@pytest.fixture(scope="module")
def day(stack, config, pack, tmp_path_factory, browser):
    """The day, played once: sales through the API, then the gate's two cameras shown tickets one by one, each
    step waiting for the gate's own verdict to be stored at the gateway."""
    played = Day()
    base = stack.gateway.base_url
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    assert httpx.post(f"{base}/api/sites/{SITE}/ticket-types", headers=admin, json={
        "code": "ngay-cong-1", "name": "Vé tham quan trong ngày (cổng 1)", "kind": "day", "gates": ["gate-1"]}
    ).status_code == 201
    assert httpx.put(f"{base}/api/sites/{SITE}/capacity", headers=admin, json={"capacity": 2}).status_code == 200
    # The ticketing system: its own login, bound to the site; a key on each sale.
    token = httpx.post(f"{base}/api/auth/token", json={"username": "ve-hoi-an", "password": PASSWORD}).json()
    tix = {"Authorization": f"Bearer {token['access_token']}"}
    sale = httpx.post(f"{base}/api/passes", headers=tix | {"Idempotency-Key": "don-1001"},
                      json={"site": SITE, "ticket_type": "ngay-cong-1", "reference": "đơn 1001"})
    assert sale.status_code == 201, sale.text
    played.day_pass = sale.json()["passes"][0]
    group = httpx.post(f"{base}/api/passes/groups", headers=tix | {"Idempotency-Key": "doan-77"},
                       json={"site": SITE, "ticket_type": "ngay-cong-1", "members": 5, "reference": "đoàn 77"})
    assert group.status_code == 201, group.text
    played.group = group.json()["passes"]
    printed = {p["id"]: httpx.get(f"{base}/api/passes/{p['id']}/ticket.png", headers=tix).content
               for p in [played.day_pass, *played.group]}

    work = tmp_path_factory.mktemp("gate-1")
    boards = {"in": RelayBoard(), "out": RelayBoard()}
    cameras = {"in": NetworkCamera(holding(None), fps=8), "out": NetworkCamera(holding(None), fps=8)}
    for camera in cameras.values():
        camera.__enter__()
    edge = config.model_copy(deep=True)
    edge.events.outbox, edge.events.gallery = work / "outbox.db", work / "gallery.enc"
    edge.doors = [DoorSettings(lane=1, kind="serial", port=boards["in"].path, pulse_ms=500, direction="in"),
                  DoorSettings(lane=2, kind="serial", port=boards["out"].path, pulse_ms=500, direction="out")]
    # 8 frames a second: the rate the reader reads at; the face step runs on them too, at half the CPU of 15.
    lanes = [CameraSettings(id="cam-in", source=cameras["in"].url, lane=1, fps=8, qr_fps=8, qr_hold_s=1.0),
             CameraSettings(id="cam-out", source=cameras["out"].url, lane=2, fps=8, qr_fps=8, qr_hold_s=1.0)]
    node = build_gate(edge, bundle=load_bundle(stack.devices["gate-1"]), pack=pack, cameras=lanes, realtime=True)
    admissions = node.gate.rules.admissions
    stop = threading.Event()
    runner = threading.Thread(target=node.run, args=(lambda record: None,), kwargs={"should_stop": stop.is_set},
                              daemon=True)
    runner.start()
    live = new_page(browser, stack, "vi")  # the operator's live page, watching the day as it goes
    try:
        wait_for(lambda: admissions.tickets.site_keys, 20, "the site's ticket key at the gate")
        login(live, stack, "operator")

        def show(step: str, lane: str, pass_id: str) -> dict:
            """Hold the ticket up to the lane's camera until the gate's verdict on it is stored; then take it away,
            and if the door opened, walk through: the next visitor comes once it has locked again (one who came
            while it stood open would go through with this one, on one opening)."""
            seen = {e["id"] for e in stack.events(kind="verdict", device="gate-1")}
            pulses = sum(on for _, _, on in boards[lane].switched)
            cameras[lane].show(holding(printed[pass_id]))
            verdict = wait_for(lambda: next((e for e in stack.events(kind="verdict", device="gate-1")
                                             if e["id"] not in seen), None), 20, f"the gate's verdict on {step}")
            cameras[lane].show(holding(None))
            if verdict["verdict"] == "granted":
                wait_for(lambda: sum(on for _, _, on in boards[lane].switched) > pulses
                         and not boards[lane].switched[-1][2], 10, f"the door opened and locked again after {step}")
            played.verdicts[step] = verdict
            return verdict

        def full_at_the_gate(full: bool) -> None:
            wait_for(lambda: admissions.tickets.full is full, 20, f"the gate told the site is {'' if full else 'not '}full")

        visitor, first, second = played.day_pass["id"], played.group[1]["id"], played.group[2]["id"]
        show("visitor in", "in", visitor)  # no face enrolled, no consent: the ticket lets them in
        show("first member in", "in", first)  # two inside: the site is full
        full_at_the_gate(True)
        expect(live.locator(f"#inside [data-site='{SITE}'] .full-sign")).not_to_be_empty(timeout=15000)
        shot(live, "site-day-full-vi-desktop")
        show("second member while full", "in", second)
        show("visitor out", "out", visitor)  # someone leaves: room for one
        full_at_the_gate(False)
        show("copy of the first member's", "in", first)  # a photocopy of a ticket already used
        show("second member again", "in", second)
        # Every grant's opening confirmed by the gate (its door events), before the gate stops.
        wait_for(lambda: len(stack.events(kind="door", device="gate-1")) == 4, 20, "the four openings")
        played.doors = stack.events(kind="door", device="gate-1")
    finally:
        live.context.close()
        stop.set()
        runner.join(timeout=30)
        node.close(5.0)
        for camera in cameras.values():
            camera.__exit__(None, None, None)
    played.switched = {lane: [on for _, _, on in board.switched] for lane, board in boards.items()}
    for board in boards.values():
        board.close()
    return played


def test_the_gate_lets_the_ticket_in_refuses_its_copy_and_answers_full_until_someone_leaves(day):
    said = {step: (v["verdict"], v["pass_id"], v["method"], v["lane"]) for step, v in day.verdicts.items()}
    visitor, first, second = day.day_pass["id"], day.group[1]["id"], day.group[2]["id"]
    assert said == {
        "visitor in": ("granted", visitor, "qr", 1),
        "first member in": ("granted", first, "qr", 1),
        "second member while full": ("full", second, "qr", 1),
        "visitor out": ("granted", visitor, "qr", 2),
        "copy of the first member's": ("used", first, "qr", 1),
        "second member again": ("granted", second, "qr", 1),
    }
    assert all(v["subject"] is None for v in day.verdicts.values())  # nobody's face was asked for
    # Each grant opened its lane's door once, and nothing else did.
    assert sorted((d["lane"], d["outcome"], d["cause"]) for d in day.doors) == [(1, "opened", "grant")] * 3 + [
        (2, "opened", "grant")]
    assert day.switched["in"].count(True) == 3 and day.switched["out"].count(True) == 1


@pytest.mark.parametrize("lang, screen", [("vi", "desktop"), ("en", "phone")])
def test_the_pages_show_the_sites_day(browser, stack, day, lang, screen):
    """The operator's live page: the tickets' verdicts and the copy's card with what to do; the people inside.
    The numbers page: the day's visitors by ticket type and the refusals; its XLSX read back, Vietnamese intact."""
    t = catalogue(lang).gettext
    page = new_page(browser, stack, lang, **SCREENS[screen])
    try:
        login(page, stack, "operator")
        page.goto(stack.gateway.base_url + "/gate")
        copy = day.verdicts["copy of the first member's"]
        card = page.locator(f".follow-up-card[data-id='{copy['id']}']")
        expect(card).to_contain_text(t("This ticket or pass was already used as often as it allows: a copy, or a "
                                       "second visit on a single ticket. Ask to see who holds the original; the "
                                       "door stayed shut."))
        expect(card).to_contain_text(t("QR ticket {id}", id=day.group[1]["id"]))
        full = page.locator(f"#verdicts tr[data-id='{day.verdicts['second member while full']['id']}']")
        expect(full).to_contain_text(t("site full"))
        expect(page.locator(f"#inside [data-site='{SITE}'] .count")).to_have_text(t("{n} of {capacity}", n=2,
                                                                                      capacity=2))
        if screen == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, f"site-day-gate-{lang}-{screen}")

        page.goto(stack.gateway.base_url + f"/numbers?site={SITE}")
        expect(page.locator("#n-visitors")).to_have_text("3")  # the visitor, the first member, the second at last
        assert page.evaluate("() => Chart.getChart('by-ticket').data.labels") == ["Vé tham quan trong ngày (cổng 1)"]
        assert sorted(page.evaluate("() => Chart.getChart('refusals').data.labels")) == sorted(
            [t("site full"), t("already used")])
        shot(page, f"site-day-numbers-{lang}-{screen}")
        with page.expect_download() as download:
            page.locator("#export").click()
        book = load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
    finally:
        page.context.close()
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert summary[t("Site")] == NAME and summary[t("Visitors let in")] == 3 and summary[t("Let out")] == 1
    assert summary[t("Most inside at once")] == 2
    assert dict(book.worksheets[4].iter_rows(min_row=2, values_only=True)) == {"Vé tham quan trong ngày (cổng 1)": 3}
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert summary[t("From")] == today
