"""The web pages in a real browser: Debian's Chromium, headless, driven by Playwright, against the real gateway.

Screenshots of every page land in docs/screenshots/test-*.png (the README shows the demo's).
"""

from __future__ import annotations

import base64
import html
import shutil
import time
from urllib.parse import urlencode
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import DATA, REPO, sample_t1
from stack import PASSWORD, DeviceClient, Stack, sql, wait_for
from wire import event_topic, sign_event, uuid7
from wire.events import ExamFlagEvent, ExamSessionEvent, utc_text

SHOTS = REPO / "docs" / "screenshots"
CELEBS = DATA / "faces" / "celebrities"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("pages"), new_db("pages"))
    s.add_device("gate-01", "site-a", kind="gate")
    s.add_device("exam-01", "site-a", kind="exam")
    r = s.post("/api/subjects", {"subject": "ann-lee", "display_name": "Ann Lee", "purpose": "gate",
                                 "sites": ["site-a"], "photo": base64.b64encode((CELEBS / "img2.jpg").read_bytes()).decode()})
    assert r.status_code == 201, r.text
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "the browser tests need Debian's chromium (apt-get install chromium; .ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def login(page: Page, stack: Stack, role: str) -> None:
    page.goto(stack.gateway.base_url + "/login")
    page.fill("input[name=username]", f"{role}-1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("header .who")).to_contain_text(f"{role}-1 ({role})")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"test-{name}.png"), full_page=True)


@pytest.mark.parametrize("role, home, links", [
    ("operator", "/gate", ["Live gate"]),
    ("supervisor", "/exam", ["Live gate", "Exam review"]),
    ("admin", "/admin", ["Live gate", "Exam review", "Devices & people", "Audit"]),
    ("auditor", "/audit", ["Audit"]),
])
def test_each_role_logs_in_to_its_own_page(page, stack, role, home, links):
    page.goto(stack.gateway.base_url + home)
    assert page.url.endswith(f"/login?next=%2F{home[1:]}")  # not logged in: sent to the login page, and back after
    expect(page.locator("#notice")).to_be_hidden()  # nobody's session expired: nothing to say
    if role == "operator":
        page.fill("input[name=username]", "operator-1")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
        expect(page.locator("#message")).to_contain_text("wrong user name or password")
        shot(page, "login")
    login(page, stack, role)
    assert page.url.endswith(home)
    assert page.locator("header a:not(#logout)").all_inner_texts() == links


def test_an_expired_session_says_so_and_returns_to_the_page_and_logout_leaves_nothing_behind(page, stack):
    base = stack.gateway.base_url
    login(page, stack, "supervisor")
    page.goto(base + "/exam?day=2026-11-30")
    expect(page.locator("header .who")).to_contain_text("supervisor-1")
    sql(stack, 'DELETE FROM tokens WHERE "user" = ?', "supervisor-1")  # expired, or ended on another PC
    page.reload()
    expect(page.locator("#notice")).to_contain_text("Your session expired")
    assert "next=%2Fexam%3Fday%3D2026-11-30" in page.url
    page.fill("input[name=username]", "supervisor-1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/exam?day=2026-11-30")  # back where the supervisor was

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "facegate_token")
    page.click("#logout")
    page.wait_for_url(lambda url: "/login" in url)
    page.go_back()  # the shared PC's next user presses Back ...
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()  # ... and finds a login page, not the supervisor's session
    for path in ("/gate", "/exam", "/admin", "/audit", "/"):
        page.goto(base + path)
        assert "/login" in page.url, path
    assert httpx.get(base + "/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_live_gate_goes_to_the_login_page_when_its_session_ends_elsewhere(page, stack):
    login(page, stack, "operator")
    expect(page.locator("#live")).to_have_text("connected")
    sql(stack, 'DELETE FROM tokens WHERE "user" = ?', "operator-1")  # logged out on another PC, or expired
    page.wait_for_url(lambda url: "/login" in url, timeout=15000)  # the stream re-checks its session every 5 s
    expect(page.locator("#notice")).to_contain_text("Your session expired")
    assert "next=%2Fgate" in page.url


@pytest.mark.parametrize("role, path", [("operator", "/gate"), ("supervisor", "/exam"), ("admin", "/admin"),
                                        ("auditor", "/audit"), (None, "/login"), ("operator", "/admin")])
def test_every_page_fits_a_phone_without_sideways_scrolling(browser, stack, role, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone = context.new_page()
    try:
        if role:
            login(phone, stack, role)
        phone.goto(stack.gateway.base_url + path)
        phone.wait_for_load_state("networkidle")
        width = phone.evaluate("document.documentElement.scrollWidth")
        shot(phone, f"phone-{path.strip('/')}-{role}")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    finally:
        context.close()


def test_a_page_takes_only_its_own_site_as_where_to_return(page, stack):
    """The login page's `next` is an address on this site only: not a door to another site."""
    for bad in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        page.goto(stack.gateway.base_url + "/login?" + urlencode({"next": bad}))
        page.fill("input[name=username]", "operator-1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        assert page.url.startswith(stack.gateway.base_url + "/"), page.url
        page.goto("about:blank")  # leave the live page first: on losing its session it would go to the login
        page.context.clear_cookies()


def publish_verdict(stack: Stack, verdict: str, subject: str | None, score: float) -> None:
    from wire import GateVerdictEvent

    device = DeviceClient(stack, "gate-01")
    event = GateVerdictEvent(id=str(uuid7()), site="site-a", device="gate-01",
                             seq=stack.store.devices.get("gate-01").last_seq + 1, captured_at=datetime.now(timezone.utc),
                             model_pack="buffalo_s", camera="cam-1", track=1, verdict=verdict, subject=subject,
                             score=score, runner_up=0.1, threshold=0.36, margin=0.05, quality=0.8, frames=3,
                             liveness_enabled=True, liveness=0.93 if verdict != "spoof_suspected" else 0.12)
    device.publish(sign_event(event, device.key))
    device.close()
    wait_for(lambda: stack.get(f"/api/events/{event.id}").status_code == 200, 10, "the verdict stored")


def test_the_live_gate_shows_a_new_verdict_within_two_seconds(page, stack):
    publish_verdict(stack, "granted", "ann-lee", 0.71)  # from earlier today
    login(page, stack, "operator")
    expect(page.locator("#live")).to_have_text("connected")
    expect(page.locator("#n-granted")).to_have_text("1")
    started = time.monotonic()
    publish_verdict(stack, "unknown", None, 0.12)
    expect(page.locator("#verdicts tr.alert").first).to_contain_text("unknown", timeout=2000)
    assert time.monotonic() - started < 2.0 + 0.5  # the helper waits for the store too
    publish_verdict(stack, "spoof_suspected", "ann-lee", 0.69)
    expect(page.locator("#verdicts tr").first).to_contain_text("spoof suspected", timeout=2000)
    expect(page.locator("#n-unknown")).to_have_text("1")
    expect(page.locator("#n-spoof_suspected")).to_have_text("1")
    shot(page, "live-gate")


@pytest.fixture(scope="module")
def flagged_session(stack):
    """An exam session with a face_mismatch flag, as exam-01 would report it."""
    device = DeviceClient(stack, "exam-01")
    now = datetime.now(timezone.utc)  # when each event is sent (its captured_at): the device's clock is right
    start = now - timedelta(minutes=20)
    session, flag = str(uuid7()), str(uuid7())
    seq = stack.store.devices.get("exam-01").last_seq
    common = dict(site="site-a", device="exam-01", model_pack="buffalo_s")
    events = [
        ExamSessionEvent(id=str(uuid7()), seq=seq + 1, captured_at=now, session=session, candidate="ann-lee",
                         exam_type="theory", stage="theory", seat="A-07", started_at=start, checkin="passed",
                         checkin_score=0.62, **common),
        ExamFlagEvent(id=str(uuid7()), seq=seq + 2, captured_at=now, session=session,
                      flag=flag, flag_kind="face_mismatch", start=start + timedelta(minutes=8),
                      end=start + timedelta(minutes=11), confidence=0.9, severity="high",
                      detail="1:1 score 0.02 < 0.3", **common),
        ExamSessionEvent(id=str(uuid7()), seq=seq + 3, captured_at=now, session=session,
                         candidate="ann-lee", exam_type="theory", stage="theory", seat="A-07", started_at=start,
                         ended_at=start + timedelta(minutes=19), checkin="passed", checkin_score=0.62,
                         flags=[flag], **common),
    ]
    for e in events:
        device.publish(sign_event(e, device.key), topic=event_topic("site-a", "exam-01", e.kind))
    device.close()
    wait_for(lambda: getattr(stack.store.exams.session(session), "ended_at", None), 10, "the session at the gateway")
    return session, flag


def test_a_supervisor_confirms_a_flag_and_the_report_shows_it(page, stack, flagged_session):
    session, _ = flagged_session
    login(page, stack, "supervisor")
    row = page.locator(f"#sessions tr[data-id='{session}']")
    expect(row).to_contain_text("needs review")
    row.click()
    expect(page.locator("#detail")).to_contain_text("face_mismatch")
    shot(page, "exam-review")
    page.select_option("form.review select[name=decision]", "confirmed")
    page.fill("form.review input[name=note]", "another person sat the test from minute 8")
    page.click("form.review button")
    expect(page.locator("#detail")).to_contain_text("confirmed by supervisor-1")
    expect(row).to_contain_text("confirmed incident")
    page.fill("#verdict input[name=note]", "result voided, candidate called in")
    page.select_option("#verdict select[name=verdict]", "incident")
    page.click("#verdict button")
    expect(page.locator("#detail")).to_contain_text("incident by supervisor-1")
    with page.expect_popup() as popup:
        page.click("text=printable report")
    report = popup.value
    expect(report.locator("body")).to_contain_text("another person sat the test from minute 8")
    expect(report.locator("body")).to_contain_text("confirmed")
    shot(report, "exam-report")


def test_an_admin_uploads_photos_and_sees_each_result(page, stack, tmp_path):
    good, group = tmp_path / "bo-tran.jpg", tmp_path / "group-photo.jpg"
    good.write_bytes((CELEBS / "img13.jpg").read_bytes())
    group.write_bytes(sample_t1().read_bytes())
    login(page, stack, "admin")
    expect(page.locator("#devices")).to_contain_text("gate-01")
    page.set_input_files("#enrol input[type=file]", [str(good), str(group)])
    page.fill("#enrol input[name=sites]", "site-a")
    page.click("#enrol button[type=submit]")
    expect(page.locator("#results")).to_contain_text("enrolled (quality", timeout=30000)
    expect(page.locator("#results")).to_contain_text("refused: 6 faces found", timeout=30000)
    expect(page.locator("#subjects")).to_contain_text("bo-tran")
    shot(page, "admin")
    page.goto(stack.gateway.base_url + "/audit")
    page.click("#verify")
    expect(page.locator("#result")).to_contain_text("intact")
    shot(page, "audit")


def test_the_auditor_finds_who_confirmed_a_flag_a_week_ago_among_the_devices_events(page, stack):
    now = datetime.now(timezone.utc)
    with stack.store.db.transaction() as tx:
        tx.audit("user:supervisor-1", "exam.flag.confirmed", "flag-old", {"note": "seen on camera 2"},
                 at=utc_text(now - timedelta(days=7)))
    with stack.store.db.transaction() as tx:  # a week of a gate's events since, newer than the confirmation
        for i in range(150):
            tx.audit("device:gate-01", "event.stored", f"e-{i}", {}, at=utc_text(now - timedelta(days=6, seconds=-i)))
    login(page, stack, "auditor")  # the auditor's page: people's actions first, the devices' stream apart
    expect(page.locator("#entries tr").first).to_be_visible()
    assert not [who for who in page.locator("#entries td:nth-child(3)").all_inner_texts() if who.startswith("device:")]
    page.fill("input[name=action]", "exam.flag.confirmed")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "action=exam.flag.confirmed" in url)  # the search has its own address
    row = page.locator("#entries tr", has_text="flag-old")
    expect(row).to_contain_text("user:supervisor-1")
    row.get_by_role("link", name="flag-old").click()  # everything about that flag
    page.wait_for_url(lambda url: "target=flag-old" in url)
    expect(page.locator("#entries tr")).to_have_count(1)
    assert "target=flag-old" in page.locator("#export").get_attribute("href")

    page.goto(stack.gateway.base_url + "/audit?who=devices")
    expect(page.locator("#entries tr")).to_have_count(100)
    page.click("#older")
    expect(page.locator("#entries tr").nth(100)).to_be_attached()  # the next page joined the first
    seqs = [int(s) for s in page.locator("#entries td:first-child").all_inner_texts()]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)  # older, without repeats


def test_an_operator_cannot_open_admin_or_review_pages(page, stack):
    login(page, stack, "operator")
    for path in ("/admin", "/exam", "/audit"):
        response = page.goto(stack.gateway.base_url + path)
        assert response.status == 403
        expect(page.locator("h1")).to_have_text("Not for your role")


def test_a_device_cannot_run_script_in_an_admins_browser(page, stack):
    """Release 1: a heartbeat's stage name reached the admin page unescaped; one heartbeat made the admin's
    browser create a site as that admin. Now the contract refuses such names, and every string is text."""
    from wire import HeartbeatEvent

    attack = "FG.api('/api/sites', {method: 'POST', body: JSON.stringify({id: 'pwned', name: 'by a device'})})"
    markup = f'<img src=x onerror="{attack}">'
    device = DeviceClient(stack, "gate-01")
    seq = stack.store.devices.get("gate-01").last_seq + 1
    common = dict(site="site-a", device="gate-01", captured_at=datetime.now(timezone.utc), fps=20.0, frames=10,
                  frames_dropped=0, outbox_depth=0, outbox_refused=0, gallery_version="1", gallery_size=1,
                  liveness_enabled=True, uptime_s=5.0)
    shown = HeartbeatEvent(id=str(uuid7()), seq=seq, stage_ms={"detect": 3.0}, camera_error=markup, **common)
    exploit = HeartbeatEvent.model_construct(id=str(uuid7()), seq=seq + 1, stage_ms={markup: 3.0}, v=1,
                                             kind="heartbeat", model_pack=None, camera_error=None, **common)
    for event in (shown, exploit):
        device.publish(sign_event(event, device.key), topic=event_topic("site-a", "gate-01", "heartbeat"))
    device.close()
    wait_for(lambda: stack.get(f"/api/events/{shown.id}").status_code == 200, 10, "the heartbeat stored")
    time.sleep(1)  # the exploit, had it been stored, is in by now
    login(page, stack, "admin")
    page.goto(stack.gateway.base_url + "/admin")
    expect(page.locator("#devices")).to_contain_text("gate-01")
    page.wait_for_timeout(2000)  # time for an injected handler to fire
    assert "pwned" not in [s["id"] for s in stack.get("/api/sites").json()]
    expect(page.locator("#devices")).to_contain_text(f"camera: {markup}")  # shown as the text it is
    shot(page, "admin-hostile-heartbeat")
    # The one way the pages build HTML escapes every value, and the one way they set it takes nothing else.
    assert page.evaluate("v => FG.html`<b>${v}</b>`.text", markup) == "<b>" + html.escape(markup, quote=True).replace(
        "&#x27;", "&#39;") + "</b>"
    assert page.evaluate("() => { try { FG.fill(document.body, '<i>x</i>'); return 'taken'; }"
                         " catch (e) { return e.name; } }") == "TypeError"
    # And the browser itself refuses HTML from anywhere else: the pages' CSP requires Trusted Types, and the only
    # policy is the one FG.fill holds (a second one, made by injected code, is refused as well).
    assert page.evaluate("() => { try { document.body.innerHTML = '<i>x</i>'; return 'taken'; }"
                         " catch (e) { return e.name; } }") == "TypeError"
    assert page.evaluate("() => { try { trustedTypes.createPolicy('facegate', {createHTML: s => s}); return 'made'; }"
                         " catch (e) { return e.name; } }") == "TypeError"
