"""Passes, as a site sells them and its gates honour them: ticket types, sales by the ticketing system (with
idempotency keys, at its own site only), groups, extensions and cancellations, the gallery that carries them to
the gates, and the gate deciding offline."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest

from edge.gate.passes import Admissions
from edge.gate.rules import GateRules
from edge.node.runner import tickets_shown
from edge.settings import DoorSettings, GateSettings
from edge.vision.policy import Verdict
from edge.vision.qr import QrReader
from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.devices.galleries import GalleryPusher
from gateway.services.devices.registry import add_site
from gateway.services.security.auth import Auth
from gateway.services.security.secrets import GatewaySecrets
from gateway.services.visitors import occupancy, passes
from gateway.services.visitors.occupancy import set_capacity
from gateway.services.visitors.passes import Sale, admits_at
from gateway.services.visitors.qr import TicketLists, ticket_image
from gateway.services.visitors.ticket_types import add_type, set_sold
from gateway.storage import AuditQuery, Store, StoredEvent
from gateway.storage.people import Consent, Subject
from stack import PASSWORD, Stack, store_events
from wire.events import utc_text
from wire.ids import uuid7
from wire.gallery import Admit, new_gallery_key, open_gallery
from wire.signing import DeviceKey
from wire.tickets import Ticket, TicketList, open_ticket, open_ticket_list, seal_ticket

ZONE = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc).timestamp()


def site_today() -> date:
    """Today on the site's clock (UTC+7: from 17:00 UTC it is already tomorrow there)."""
    return datetime.now(ZoneInfo(ZONE)).date()


def verdict(subject: str | None, at: float = 0.0) -> Verdict:
    return Verdict(timestamp=at, track=1, verdict="granted", subject=subject, score=0.7, runner_up=None,
                   threshold=0.4, margin=0.05, quality=0.8, frames=3, liveness_enabled=True, liveness=0.9)


def admit(pass_id: str, days: tuple[int, int] = (-1, 1), gates: tuple[str, ...] | None = None,
          entries: int | None = None, used: int = 0) -> Admit:
    start = datetime.fromtimestamp(NOW, timezone.utc)
    return Admit(pass_id, utc_text(start + timedelta(days=days[0])), utc_text(start + timedelta(days=days[1])),
                 gates, entries, used)


def test_the_gate_lets_a_pass_in_here_and_now_and_says_why_it_refuses_one():
    admissions = Admissions("gate-01", {
        "ann": [admit("P-DAY")],  # today, every gate
        "bob": [admit("P-OLD", days=(-3, -1))],  # expired yesterday
        "cai": [admit("P-G2", gates=("gate-02",))],  # today, another gate
        "dan": [admit("P-ONE", entries=1)],  # one entry
        "eve": [],  # her passes are all cancelled
        "fay": [admit("P-G2B", gates=("gate-02",)), admit("P-USED", entries=1, used=1), admit("P-NEXT", days=(1, 2))],
    }, clock=lambda: NOW)
    rules = GateRules(GateSettings(anti_passback=False),
                      [DoorSettings(lane=1, kind="webhook", url="http://x"),
                       DoorSettings(lane=2, kind="webhook", url="http://x", direction="out")],
                      liveness_off=False, admissions=admissions)

    def at_lane(subject: str, lane: int = 1) -> tuple[str, str | None, bool]:
        decided, opens = rules.decide(verdict(subject), lane)
        return decided.verdict, decided.pass_id, opens

    assert at_lane("ann") == ("granted", "P-DAY", True)
    assert at_lane("zoe") == ("granted", None, True)  # no passes at the site: her consent admits her, as before
    assert at_lane("bob") == ("no_pass", None, False)
    assert at_lane("cai") == ("wrong_gate", "P-G2", False)
    assert at_lane("eve") == ("no_pass", None, False)
    assert at_lane("dan") == ("granted", "P-ONE", True)
    assert at_lane("dan") == ("used", "P-ONE", False)  # its one entry is spent, here and now
    assert at_lane("fay") == ("used", "P-USED", False)  # the most telling reason: a pass for here, spent
    # Leaving is never refused, and asks for nothing.
    assert at_lane("bob", lane=2) == ("granted", None, True)
    # A new gallery's counts include the entries the gateway stored: they start again from it.
    admissions.use({"dan": [admit("P-ONE", entries=2, used=1)]})
    assert at_lane("dan") == ("granted", "P-ONE", True)
    assert at_lane("dan") == ("used", "P-ONE", False)


def with_gates(database: str) -> Store:
    store = Store.open(database)
    add_site(store, "site-a")
    add_site(store, "site-b")
    with store.db.transaction() as tx:
        for device, site in (("gate-01", "site-a"), ("gate-02", "site-a"), ("gate-09", "site-b")):
            store.devices.add(tx, device, site, "gate", device, "-", "x", "buffalo_s", new_gallery_key())
        tx.audit("test", "device.provisioned", "gates", {})
    return store


def enrol(store: Store, subject: str, expires_at: str | None = None) -> None:
    now = utc_text(datetime.now(timezone.utc))
    template = np.random.default_rng(len(subject)).standard_normal(512).astype(np.float32)
    with store.db.transaction() as tx:
        store.people.add_subject(tx, Subject(subject, subject, None, now, "test"),
                                 {"buffalo_s": (template.tobytes(), 0.9)})
        store.people.add_consent(tx, Consent(subject, "gate", ["site-a"], "v1", "counter", now, expires_at, "test"))
        tx.audit("test", "subject.enrolled", subject, {})


def test_ticket_types_are_checked_and_passes_take_their_window_gates_and_entries(database):
    store = with_gates(database)
    with pytest.raises(Invalid, match="not a gate of site-a: gate-09"):
        add_type(store, "site-a", "day-1", "Vé ngày cổng 1", "day", "user:admin-1", gates=["gate-09"])
    with pytest.raises(Invalid, match="needs its number of days"):
        add_type(store, "site-a", "season", "Vé mùa", "season", "user:admin-1")
    add_type(store, "site-a", "day-1", "Vé ngày cổng 1", "day", "user:admin-1", gates=["gate-01"])
    add_type(store, "site-a", "three", "Ba ngày", "days", "user:admin-1", days=3)
    add_type(store, "site-a", "once", "Một lượt", "single", "user:admin-1")
    with pytest.raises(Conflict):
        add_type(store, "site-a", "once", "again", "single", "user:admin-1")

    first = date.today() + timedelta(days=2)
    sold, = passes.sell(store, Sale("site-a", "three", first), "user:admin-1", ZONE)["passes"]
    # Three whole local days on the site's clock (UTC+7): from 17:00 UTC the day before the first.
    assert sold["valid_from"] == utc_text(datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
                                          - timedelta(hours=7))
    assert sold["valid_until"] == utc_text(datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
                                           + timedelta(days=3, hours=-7))
    assert (sold["holder"], sold["entries"], sold["gates"]) == ("qr", None, [])
    once, = passes.sell(store, Sale("site-a", "once"), "user:admin-1", ZONE)["passes"]
    day, = passes.sell(store, Sale("site-a", "day-1"), "user:admin-1", ZONE)["passes"]
    assert (once["entries"], day["gates"]) == (1, ["gate-01"])
    with pytest.raises(NotFound):
        passes.sell(store, Sale("site-b", "day-1"), "user:admin-1", ZONE)
    # A kind no longer sold is refused; what was sold of it stays valid.
    set_sold(store, "site-a", "day-1", False, "user:admin-1")
    with pytest.raises(Conflict, match="no longer sells"):
        passes.sell(store, Sale("site-a", "day-1"), "user:admin-1", ZONE)
    assert store.passes.get(day["id"]).status == "active"


def test_a_retry_with_its_idempotency_key_sells_nothing_twice(database):
    store = with_gates(database)
    add_type(store, "site-a", "day", "Vé ngày", "day", "user:admin-1")
    group = Sale("site-a", "day", reference="order-77")
    first = passes.sell_group(store, group, 5, "user:tix", ZONE, key="order-77")
    again = passes.sell_group(store, group, 5, "user:tix", ZONE, key="order-77")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert [p["id"] for p in again["passes"]] == [p["id"] for p in first["passes"]]
    assert len(store.passes.find(site="site-a")) == 6  # a guide and five members, once
    assert [(p["group_role"], p["entries"]) for p in first["passes"]] == [("guide", 1)] + [("member", 1)] * 5
    with pytest.raises(Conflict, match="different request"):
        passes.sell_group(store, group, 6, "user:tix", ZONE, key="order-77")
    # The same key at another site is another site's business.
    add_type(store, "site-b", "day", "Vé ngày", "day", "user:admin-1")
    assert passes.sell(store, Sale("site-b", "day"), "user:tix-b", ZONE, key="order-77")["replayed"] is False
    actions = [e.action for e in store.audit.search(AuditQuery(action="pass.*"))]
    assert actions.count("pass.group_sold") == 1 and actions.count("pass.sold") == 1


def test_a_face_holds_a_pass_only_within_its_consent_and_the_gates_gallery_carries_it(database, tmp_path):
    store = with_gates(database)
    add_type(store, "site-a", "day-1", "Vé ngày cổng 1", "day", "user:admin-1", gates=["gate-01"])
    add_type(store, "site-a", "season", "Vé mùa", "season", "user:admin-1", days=365)
    add_type(store, "site-b", "day", "Vé ngày", "day", "user:admin-1")
    enrol(store, "ann")
    enrol(store, "bob", expires_at=utc_text(datetime.now(timezone.utc) + timedelta(days=30)))
    enrol(store, "staff")
    with pytest.raises(Invalid, match="consent ends before the pass does"):
        passes.sell(store, Sale("site-a", "season", subject="bob"), "user:admin-1", ZONE)
    with pytest.raises(Invalid, match="no consent to face processing"):
        passes.sell(store, Sale("site-b", "day", subject="ann"), "user:admin-1", ZONE)
    ann, = passes.sell(store, Sale("site-a", "day-1", subject="ann"), "user:admin-1", ZONE)["passes"]
    bob, = passes.sell(store, Sale("site-a", "day-1", subject="bob"), "user:admin-1", ZONE)["passes"]

    secrets = GatewaySecrets(tmp_path)
    sent: dict[str, bytes] = {}
    pusher = GalleryPusher(store, secrets, lambda topic, payload: sent.__setitem__(topic.split("/")[-3], payload)
                           or True)

    def gallery(device: str):
        return open_gallery(sent[device], device, store.devices.get(device).gallery_key,
                            secrets.signing_key.public_text)

    pusher.sync()
    assert sorted(gallery("gate-01").subjects) == ["ann", "bob", "staff"]
    assert gallery("gate-01").admits == {
        "ann": [Admit(ann["id"], ann["valid_from"], ann["valid_until"], ("gate-01",), None, 0)],
        "bob": [Admit(bob["id"], bob["valid_from"], bob["valid_until"], ("gate-01",), None, 0)]}  # staff: none
    assert gallery("gate-09").admits == {}  # another site's gate: neither the faces nor their passes

    # Cancelled: the gates get a new version in which bob holds passes, none valid (refused, not let in on consent).
    passes.cancel(store, bob["id"], "user:admin-1", "refunded")
    assert sorted(d for d, _ in pusher.sync()) == ["gate-01", "gate-02"]
    assert gallery("gate-01").admits["bob"] == []
    with pytest.raises(Conflict):
        passes.cancel(store, bob["id"], "user:admin-1")
    # A ticketing system sees only its own site's passes.
    with pytest.raises(NotFound):
        passes.extend(store, ann["id"], site_today() + timedelta(days=1), "user:tix-b", ZONE, site="site-b")
    passes.extend(store, ann["id"], site_today() + timedelta(days=1), "user:admin-1", ZONE)  # a day more
    pusher.sync()
    assert gallery("gate-01").admits["ann"][0].valid_until == store.passes.get(ann["id"]).valid_until
    assert store.passes.get(ann["id"]).valid_until > ann["valid_until"]
    # An entry stored for a pass of counted entries is news for the gates; one of any number is not.
    one = passes.sell_group(store, Sale("site-a", "season"), 1, "user:admin-1", ZONE, guide="ann")["passes"][0]
    pusher.sync()
    store_events(store, [passage(1, "in", pass_id=one["id"]), passage(2, "in", pass_id=ann["id"]),
                         passage(3, "in", pass_id=ann["id"], site="site-b")])  # another site's gate: not counted
    assert (store.passes.get(one["id"]).used, store.passes.get(ann["id"]).used) == (1, 1)
    assert sorted(d for d, _ in pusher.sync()) == ["gate-01", "gate-02"]
    assert {a.pass_id: a.used for a in admits_at(store, "site-a")["ann"]}[one["id"]] == 1


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("passes"), new_db("passes"))
    s.add_device("gate-01", "site-a")
    add_site(s.store, "site-b")
    auth = Auth(s.store)
    auth.add_user("tix-a", "ticketing", PASSWORD, site="site-a")
    with pytest.raises(Invalid):
        auth.add_user("tix-x", "ticketing", PASSWORD)  # a ticketing login is bound to a site
    add_type(s.store, "site-a", "day-1", "Vé ngày cổng 1", "day", "user:admin-1", gates=["gate-01"])
    yield s
    s.close()


def test_the_ticketing_system_sells_at_its_own_site_with_a_key_and_a_retry_sells_nothing(stack):
    token = httpx.post(f"{stack.gateway.base_url}/api/auth/token",
                       json={"username": "tix-a", "password": PASSWORD}).json()["access_token"]

    def tix(method: str, path: str, body: dict | None = None, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} | ({"Idempotency-Key": key} if key else {})
        return httpx.request(method, stack.gateway.base_url + path, json=body, headers=headers, timeout=30)

    sale = {"site": "site-a", "ticket_type": "day-1", "reference": "order-1"}
    assert tix("POST", "/api/passes", sale).status_code == 400  # no key: a retry could sell twice
    first = tix("POST", "/api/passes", sale, key="order-1")
    assert first.status_code == 201, first.text
    again = tix("POST", "/api/passes", sale, key="order-1")
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert again.json()["passes"] == first.json()["passes"]
    assert tix("POST", "/api/passes", sale | {"reference": "order-2"}, key="order-1").status_code == 409
    assert tix("POST", "/api/passes", sale | {"site": "site-b"}, key="b-1").status_code == 403
    group = tix("POST", "/api/passes/groups", {"site": "site-a", "ticket_type": "day-1", "members": 5}, key="g-1")
    assert group.status_code == 201 and len(group.json()["passes"]) == 6
    # Each QR pass comes with its ticket, signed with the site's key; its printable image says the same.
    member = group.json()["passes"][1]
    site_key = stack.secrets.ticket_key("site-a").public_text
    assert open_ticket(member["qr"], {"site-a": site_key}).gates == ("gate-01",)
    png = tix("GET", f"/api/passes/{member['id']}/ticket.png")
    assert png.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    # Read as a gate reads it (edge/vision/qr.py): the classic detector misses ~2 % of these codes, printed perfectly.
    assert cv2.QRCodeDetectorAruco().detectAndDecode(image)[0] == member["qr"]
    # Its own site's passes, newest first, paged; not another site's ticket types; no other route.
    listed = tix("GET", "/api/passes?limit=4").json()
    rest = tix("GET", f"/api/passes?limit=10&before={listed[-1]['id']}").json()
    assert len(listed) == 4 and len(rest) == 3 and not {p["id"] for p in listed} & {p["id"] for p in rest}
    assert tix("GET", "/api/sites/site-b/ticket-types").status_code == 403
    assert [t["code"] for t in tix("GET", "/api/sites/site-a/ticket-types").json()] == ["day-1"]
    assert tix("GET", "/api/events").status_code == 403
    sold = first.json()["passes"][0]["id"]
    cancelled = tix("POST", f"/api/passes/{sold}/cancel", {"reason": "refund"})
    assert cancelled.json()["passes"][0]["status"] == "cancelled"
    # An admin sees it, audited as the ticketing system's.
    entries = stack.get("/api/audit", role="auditor", action="pass.cancelled").json()
    assert [(e["actor"], e["target"]) for e in entries] == [("user:tix-a", sold)]


def frames_showing(code: np.ndarray | None, n: int, at: tuple[int, int] = (200, 120)) -> list[np.ndarray]:
    """`n` 640x480 frames of a grey scene, the code (a grey image) held up in each, if any."""
    frames = []
    for i in range(n):
        frame = np.full((480, 640, 3), 100 + i % 7, np.uint8)
        if code is not None:
            y, x = at
            frame[y:y + code.shape[0], x:x + code.shape[1]] = code[..., None]
        frames.append(frame)
    return frames


def test_a_qr_ticket_shown_to_the_camera_opens_once_and_its_copy_and_a_forgery_do_not(tmp_path):
    """The ticket printed (the gateway's PNG), read off camera frames by the reader's own thread, checked offline by
    the gate with the site's key from its ticket list; the entries it made are kept across a restart."""
    site_key, forger = DeviceKey.generate(), DeviceKey.generate()
    one_entry = Ticket("P0000000001", "site-a", NOW - 3600, NOW + 3600, 1, ("gate-01",))
    day = Ticket("P0000000002", "site-a", NOW - 3600, NOW + 3600, None, None)
    other_gate = Ticket("P0000000003", "site-a", NOW - 3600, NOW + 3600, None, ("gate-02",))
    printed = {name: cv2.imdecode(np.frombuffer(ticket_image(seal_ticket(t, key), module_px=4), np.uint8),
                                  cv2.IMREAD_GRAYSCALE)
               for name, t, key in (("one", one_entry, site_key), ("day", day, site_key),
                                    ("other", other_gate, site_key), ("forged", day, forger))}
    reader = QrReader(max_fps=30, hold_s=1.0)
    shown = []
    t = 0.0
    for name in ("one", None, "one", None, "forged", None, "other", None, "day", None, "day"):
        for frame in frames_showing(printed[name] if name else None, 3):
            reader.offer(frame, t, 0.0)
            shown += reader.drain()
            t += 0.5
    reader.close()
    assert len(shown) == 6  # each showing read once, though held up in three frames

    def gate(entries_path):
        admissions = Admissions("gate-01", clock=lambda: NOW, entries_path=entries_path)
        admissions.use_tickets(TicketList({"site-a": site_key.public_text}, {}, frozenset()))
        return GateRules(GateSettings(passback_s=600), [DoorSettings(lane=1, kind="webhook", url="http://x")],
                         liveness_off=False, admissions=admissions)

    rules = gate(tmp_path / "entries.db")
    decided = [rules.decide(v, 1) for v in tickets_shown(shown)]
    assert [(v.verdict, v.pass_id, opens) for v, opens in decided] == [
        ("granted", "P0000000001", True), ("used", "P0000000001", False),  # its copy, after it was used
        ("forged", None, False), ("wrong_gate", "P0000000003", False),
        ("granted", "P0000000002", True), ("passback", "P0000000002", False)]  # a day ticket's copy, still inside
    assert all(v.method == "qr" and v.ticket is None for v, _ in decided)
    rules.admissions.close()
    # Restarted: the gate still knows the single entry was made (before the gateway could tell it).
    again = gate(tmp_path / "entries.db")
    assert again.decide(tickets_shown(shown[:1])[0], 1)[0].verdict == "used"
    # Cancelled, as the ticket list says: no longer valid anywhere.
    again.admissions.use_tickets(TicketList({"site-a": site_key.public_text}, {}, frozenset({"P0000000002"})))
    assert again.decide(tickets_shown(shown[4:5])[0], 1)[0].verdict == "no_pass"


def test_each_gate_is_sent_its_sites_ticket_list_when_it_changes(database, tmp_path):
    store = with_gates(database)
    add_type(store, "site-a", "once", "Một lượt", "single", "user:admin-1")
    secrets = GatewaySecrets(tmp_path)
    sent: dict[str, bytes] = {}
    lists = TicketLists(store, secrets, lambda topic, payload: sent.__setitem__(topic.split("/")[-3], payload) or True)
    assert sorted(lists.sync()) == ["gate-01", "gate-02", "gate-09"]
    assert lists.sync() == []  # nothing changed: nothing sent
    one, two = (passes.sell(store, Sale("site-a", "once"), "user:admin-1", ZONE)["passes"][0] for _ in range(2))
    store_events(store, [passage(1, "in", pass_id=one["id"])])
    passes.cancel(store, two["id"], "user:admin-1")
    assert sorted(lists.sync()) == ["gate-01", "gate-02"]  # site-b's list is as it was
    got = open_ticket_list(sent["gate-02"], "gate-02", secrets.signing_key.public_text)
    assert (got.spent, got.cancelled) == ({one["id"]: 1}, frozenset({two["id"]}))
    assert got.site_keys == {"site-a": secrets.ticket_key("site-a").public_text}
    with pytest.raises(ValueError):
        open_ticket_list(sent["gate-02"], "gate-01", secrets.signing_key.public_text)  # not for another gate


def passage(seq: int, direction: str | None, verdict: str = "granted", site: str = "site-a",
            captured: datetime | None = None, pass_id: str | None = None) -> StoredEvent:
    """A verdict event as a gate of `site` signed it and ingest admitted it (the signature is not checked here)."""
    at = utc_text(captured or datetime.now(timezone.utc))
    body = json.dumps({"kind": "verdict", "direction": direction, "verdict": verdict, "pass_id": pass_id})
    return StoredEvent(str(uuid7()), site, "gate-01" if site == "site-a" else "gate-09", "verdict", seq, at, at,
                       verdict, None, 0.0, body, "sig")


def test_the_site_counts_who_is_inside_and_its_gates_answer_full_at_capacity_while_exits_stay_open(database, tmp_path):
    store = with_gates(database)
    secrets = GatewaySecrets(tmp_path)
    sent: dict[str, bytes] = {}
    lists = TicketLists(store, secrets, lambda topic, payload: sent.__setitem__(topic.split("/")[-3], payload) or True,
                        ZONE)
    set_capacity(store, "site-a", 3, "user:admin-1", ZONE)
    lists.sync()

    def told(device: str = "gate-02") -> bool:
        return open_ticket_list(sent[device], device, secrets.signing_key.public_text).full

    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    store_events(store, [passage(1, "in"), passage(2, "in"), passage(3, None), passage(4, "in", verdict="unknown"),
                         passage(5, "in", captured=yesterday), passage(6, "in", site="site-b")])
    now = occupancy.current(store, "site-a", ZONE)
    assert (now.inside, now.full) == (2, False)  # granted with a direction, today's, this site's only
    store_events(store, [passage(7, "in")])
    assert occupancy.current(store, "site-a", ZONE).full
    assert sorted(lists.sync()) == ["gate-01", "gate-02"] and told()
    store_events(store, [passage(8, "out")])
    assert (occupancy.current(store, "site-a", ZONE).inside, lists.sync(), told()) == (2, ["gate-01", "gate-02"],
                                                                                         False)
    # An operator's count replaces the gates' (audited, with what it was); the day's peak follows it up.
    counted = occupancy.correct(store, "site-a", 5, "user:operator-1", ZONE, "school party at the side gate")
    assert (counted.inside, counted.peak, counted.full) == (5, 5, True)
    entry, = store.audit.search(AuditQuery(action="occupancy.corrected"))
    assert json.loads(entry.detail) == {"from": 2, "to": 5, "reason": "school party at the side gate"}
    store_events(store, [passage(n, "out") for n in range(9, 20)])
    assert (occupancy.current(store, "site-a", ZONE).inside, occupancy.current(store, "site-a", ZONE).peak) == (0, 5)
    with pytest.raises(Invalid):
        set_capacity(store, "site-a", 0, "user:admin-1", ZONE)

    # At the gate: full turns away anyone coming in, by face or by ticket; going out is never refused.
    admissions = Admissions("gate-01", clock=lambda: NOW)
    admissions.use_tickets(TicketList({}, {}, frozenset(), full=True))
    rules = GateRules(GateSettings(), [DoorSettings(lane=1, kind="webhook", url="http://x"),
                                       DoorSettings(lane=2, kind="webhook", url="http://x", direction="out")],
                      liveness_off=False, admissions=admissions)
    assert (rules.decide(verdict("ann"), 1)[0].verdict, rules.decide(verdict("ann"), 2)[1]) == ("full", True)
