"""A tourist site's day at scale (issue 28): the numbers page and its XLSX with 10 million verdicts and 100,000
passes stored; a QR ticket from camera frame to door with the face step on the same camera; the live page with
500 verdicts waiting.

    .venv/bin/python benchmarks/site_day.py [--verdicts 10000000] [--passes 100000] [--events 1000000] [--runs 20]

1. **Numbers.** A gateway database (SQLite) holds `--passes` passes and the hourly counts of `--verdicts`
   verdicts from 20 gates over the last 365 days (what ingest keeps as it stores them), beside `--events`
   verdict events of the last 30 days. `facegate gateway run --no-ingest` serves it; `GET /api/numbers` for
   today and for the last 30 days, and its XLSX, are timed `--runs` times, and the numbers page in Chromium
   (navigation to its figures drawn). Baseline, in the same run: the same month's figures counted from the
   `--events` events themselves (one GROUP BY on the events table, what the page would do without the counts).
2. **QR ticket to door.** A gate node (the real loop, 1280x720 at 15 fps, realtime) on a video where people walk
   up and hold up printed tickets, a relay board on a pty as the door: from the frame that showed a ticket
   reaching the loop to the door's relay switched. The face step's frames per second on the same video, with
   the QR reader and without it (the baseline).
3. **The live page with 500 waiting.** 500 `unknown` verdicts of today stored; Chromium opens /gate as an
   operator: first paint, and the waiting count drawn. Baseline: the same page drawing every waiting card
   (what it did before issue 28).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

import cv2  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from pages import CHROMIUM, PASSWORD, fill_events, first_paint, login, p50_p95, serve  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from gateway.services.security.audit import open_store  # noqa: E402
from gateway.services.visitors.passes import ID_ALPHABET  # noqa: E402
from gateway.storage import VisitCount  # noqa: E402
from gateway.storage.schema import passes, visits  # noqa: E402
from wire.events import utc_text  # noqa: E402

GATES = 20
ZONE_HOURS = 7  # Asia/Ho_Chi_Minh


def fill_numbers(db: str, secrets: Path, verdicts: int, pass_count: int) -> None:
    """`pass_count` passes, and the hourly counts of `verdicts` verdicts over 365 days: opening hours 07-18 on the
    site's clock, 20 gates, most let in by face or ticket, some going out, a few refused."""
    store, _anchor = open_store(db, secrets)
    rng = random.Random(11)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    with store.db.transaction() as tx:
        tx.execute(passes.insert(), [dict(
            id="P" + "".join(rng.choice(ID_ALPHABET) for _ in range(10)), site="site-a",
            ticket_type=rng.choice(("day", "combo", "season")), subject=None, group_id=None, group_role=None,
            valid_from=utc_text(now - timedelta(days=rng.randrange(365))), valid_until=utc_text(now + timedelta(days=1)),
            gates="[]", entries=None, used=rng.randrange(3), status="active", reference=None,
            created_at=utc_text(now), created_by="benchmark", updated_at=utc_text(now)) for _ in range(pass_count)])
        tx.audit("benchmark", "passes.loaded", None, {"count": pass_count})
    hours = [now - timedelta(days=d, hours=h) for d in range(365) for h in range(24)
             if 7 <= (now - timedelta(days=d, hours=h) + timedelta(hours=ZONE_HOURS)).hour < 18]
    kinds = [("granted", "in", "face", ""), ("granted", "in", "qr", "day"), ("granted", "in", "face", "season"),
             ("granted", "out", "face", ""), ("granted", "out", "qr", "day"), ("unknown", "in", "face", ""),
             ("no_pass", "in", "qr", "day"), ("used", "in", "qr", "day")]
    weights = [0.35, 0.25, 0.05, 0.15, 0.12, 0.05, 0.02, 0.01]
    per_row = verdicts / (len(hours) * GATES)
    rows, written = [], 0
    for hour in hours:
        for gate in range(GATES):
            for (verdict, direction, method, ticket), weight in zip(kinds, weights):
                count = max(1, round(per_row * weight))
                rows.append(VisitCount("site-a", f"gate-{gate:02d}", hour.strftime("%Y-%m-%dT%H"), verdict, direction,
                                       method, ticket, count))
                written += count
    with store.db.transaction() as tx:
        tx.insert_many(visits,
                       ("site", "device", "hour", "verdict", "direction", "method", "ticket_type", "count"),
                       [(c.site, c.device, c.hour, c.verdict, c.direction, c.method, c.ticket_type, c.count)
                        for c in rows])
        tx.audit("benchmark", "visits.loaded", None, {"rows": len(rows), "verdicts": written})
    print(f"  counts of {written:,} verdicts in {len(rows):,} rows, {pass_count:,} passes", file=sys.stderr)
    store.db.engine.dispose()


def baseline_month(db: str, runs: int) -> list[float]:
    """The month's figures counted from the events: one GROUP BY over the events table (ms)."""
    since = utc_text(datetime.now(timezone.utc) - timedelta(days=30))
    out = []
    with sqlite3.connect(db) as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute("SELECT device, substr(captured_at, 1, 13), verdict, json_extract(body, '$.direction'), "
                         "count(*) FROM events WHERE kind = 'verdict' AND captured_at >= ? "
                         "GROUP BY 1, 2, 3, 4", (since,)).fetchall()
            out.append(1000 * (time.perf_counter() - started))
    return out


def numbers_timings(base: str, runs: int) -> dict[str, list[float]]:
    token = httpx.post(f"{base}/api/auth/token", json={"username": "operator-1", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept-Language": "vi"}
    today = datetime.now(timezone.utc) + timedelta(hours=ZONE_HOURS)
    month = (today - timedelta(days=29)).date().isoformat()
    asks = {"numbers, today (API)": "/api/numbers?site=site-a",
            "numbers, 30 days (API)": f"/api/numbers?site=site-a&from={month}&to={today.date().isoformat()}",
            "numbers XLSX, 30 days": f"/api/numbers.xlsx?site=site-a&from={month}&to={today.date().isoformat()}"}
    out: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for label, path in asks.items():
            for _ in range(runs):
                started = time.perf_counter()
                r = client.get(path)
                r.raise_for_status()
                out.setdefault(label, []).append(1000 * (time.perf_counter() - started))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        login(page, base, "operator")
        for label, address in (("numbers page, today", "/numbers?site=site-a"),
                               ("numbers page, 30 days", f"/numbers?site=site-a&from="
                                f"{(today - timedelta(days=29)).strftime('%d/%m/%Y')}&to={today.strftime('%d/%m/%Y')}")):
            for _ in range(runs):
                started = time.perf_counter()
                page.goto(base + address)
                page.wait_for_function("() => window.Chart && Chart.getChart('by-hour')")
                out.setdefault(f"{label}: charts drawn", []).append(1000 * (time.perf_counter() - started))
        browser.close()
    return out


def waiting_page(base: str, runs: int) -> dict[str, list[float]]:
    """The live page with 500 verdicts waiting: first paint, and the waiting count drawn; then every card drawn."""
    out: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        login(page, base, "operator")
        for _ in range(runs):
            page.goto(base + "/gate")
            page.wait_for_selector("#follow-up h2")
            out.setdefault("live page, 500 waiting: first paint", []).append(first_paint(page))
            out.setdefault("live page, 500 waiting: the count and newest cards drawn", []).append(page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('verdict=unknown'))"
                ".map(e => e.responseEnd)[0] ?? NaN"))
            started = time.perf_counter()
            page.click("#show-all")
            page.wait_for_function("() => document.querySelectorAll('.follow-up-card').length >= 500")
            out.setdefault("baseline: every card drawn (the page before issue 28), after the click", []).append(
                1000 * (time.perf_counter() - started))
        browser.close()
    return out


def fill_waiting(db: str, secrets: Path, count: int) -> None:
    """`count` unknown verdicts from gate-00 in the last minute (none acknowledged)."""
    from gateway.storage.events import StoredEvent
    from wire import uuid7

    store, _anchor = open_store(db, secrets)
    now = datetime.now(timezone.utc)
    rows = []
    for i in range(count):
        at = utc_text(now - timedelta(seconds=0.1 * (count - i)))  # the last minute: today on any clock
        body = {"v": 1, "id": str(uuid7()), "kind": "verdict", "site": "site-a", "device": "gate-00",
                "seq": 10_000_000 + i, "captured_at": at, "model_pack": "buffalo_s", "camera": "cam-1", "track": i,
                "verdict": "unknown", "subject": None, "score": 0.2, "runner_up": None, "threshold": 0.36,
                "margin": 0.05, "quality": 0.8, "frames": 3, "liveness_enabled": True, "liveness": 0.9, "lane": 1}
        rows.append(StoredEvent(body["id"], "site-a", "gate-00", "verdict", body["seq"], at, at, "unknown", None, 0.2,
                                json.dumps(body, sort_keys=True, separators=(",", ":")), "c2ln").row())
    with store.db.transaction() as tx:
        store.events.insert(tx, rows)
        tx.audit("benchmark", "events.loaded", None, {"count": len(rows)})
    store.db.engine.dispose()


def qr_to_door(pack_config, runs_s: float = 40.0) -> dict[str, list[float]]:
    """The real gate loop on a video of people with printed tickets: frame -> door, and the face step's fps with
    and without the QR reader."""
    from door_standins import RelayBoard
    from edge.eval.synthetic import portrait, scene_video
    from edge.gate.rules import Gate
    from edge.node.feed import Feed
    from edge.node.runner import run_node
    from edge.settings import CameraSettings, DoorSettings
    from edge.vision.camera import Camera
    from edge.vision.gallery import GalleryIndex
    from edge.vision.liveness import LivenessChecker
    from edge.vision.pipeline import FacePipeline
    from edge.vision.qr import QrReader
    from gateway.services.visitors.qr import ticket_image
    from edge.node.packs import open_pack
    from wire.signing import DeviceKey
    from wire.tickets import Ticket, TicketList, seal_ticket

    config = pack_config
    pack = open_pack(config)
    work = Path(tempfile.mkdtemp(prefix="facegate-qr-"))
    lfw = REPO.parent / "shared" / "data" / "faces" / "lfw-devtest" / "images"
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:12]
    site_key = DeviceKey.generate()
    now = time.time()
    scenes, tickets = [], {}
    for i, person in enumerate(people):
        start = 1.0 + 3.0 * i
        face = portrait(next(person.glob("*.jpg")), 420)
        scenes.append((start, start + 2.4, face, 120, 40))
        text = seal_ticket(Ticket(f"P{i:010d}", "site-a", now - 3600, now + 36000, None, None), site_key)
        code = cv2.imdecode(np.frombuffer(ticket_image(text), np.uint8), cv2.IMREAD_COLOR)
        scenes.append((start + 0.6, start + 2.0, cv2.resize(code, (200, 200), interpolation=cv2.INTER_AREA), 700,
                       300))
        tickets[text] = start + 0.6
    video = scene_video(work / "gate.avi", scenes, 1280, 720, 15.0, 3.0 * len(people) + 2.0)
    out: dict[str, list[float]] = {}
    for with_qr in (False, True):
        board = RelayBoard()
        cfg = config.model_copy(deep=True)
        cfg.doors = [DoorSettings(lane=1, kind="serial", port=board.path, pulse_ms=200, direction="in")]
        gate = Gate.open(cfg, None, "gate-00")
        gate.rules.admissions.use_tickets(TicketList({"site-a": site_key.public_text}, {}, frozenset()))
        camera = CameraSettings(source=str(video), lane=1, qr_fps=8 if with_qr else 0)
        feed = Feed(Camera(str(video), camera, realtime=True),
                    FacePipeline(pack, GalleryIndex([], np.zeros((0, 512), np.float32)), cfg,
                                 LivenessChecker.open(cfg), camera),
                    qr=QrReader(8) if with_qr else None)
        records: list[dict] = []
        summary = run_node([feed], records.append, gate=gate)
        gate.stop()
        board.close()
        label = "with the QR reader" if with_qr else "baseline: without it"
        out.setdefault(f"face step, {label}: frames per second", []).append(summary.fps)
        out.setdefault(f"face step, {label}: ms of the loop per frame", []).append(
            sum(feed.pipeline.timer.per_frame_ms().values()))
        if with_qr:
            # frame -> verdict (the door is asked before the verdict is written), and the relay's own latency
            for record in records:
                if record.get("method") == "qr" and record["wall_time_to_decision_s"] is not None:
                    out.setdefault("QR ticket: frame to door asked", []).append(
                        1000 * record["wall_time_to_decision_s"])
            out["door: asked to relay switched"] = [r.latency_ms for r in gate.reports if r.latency_ms is not None]
            out["QR tickets read (of shown)"] = [sum(1 for r in records if r.get("method") == "qr")]
            out["QR tickets shown"] = [len(tickets)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verdicts", type=int, default=10_000_000)
    parser.add_argument("--passes", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="facegate-site-day-"))
    db, secrets = str(work / "site.db"), work / "secrets"
    fill_events(db, secrets, args.events)  # and the users, and site-a
    fill_numbers(db, secrets, args.verdicts, args.passes)
    fill_waiting(db, secrets, 500)
    from edge.settings import EdgeConfig
    config = EdgeConfig()
    config.models.search_paths = [REPO.parent / "shared" / "models" / d for d in ("yunet", "minifasnet")]
    results: dict[str, list[float]] = qr_to_door(config)  # first: the shortest part, and the one least like the rest
    table(results, "QR ticket to door, 1280x720 at 15 fps, realtime")
    results["baseline: the month counted from the events (GROUP BY)"] = baseline_month(db, args.runs)
    gateway, base = serve(db, secrets)
    try:
        results |= numbers_timings(base, args.runs)
        results |= waiting_page(base, args.runs)
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    table(results, f"{args.verdicts:,} verdicts counted, {args.passes:,} passes, {args.events:,} events (SQLite, "
                   f"{args.runs} runs)")


def table(results: dict[str, list[float]], title: str) -> None:
    print(f"\n| {title} | p50 | p95 |", flush=True)
    print("|---|---|---|")
    for label, values in results.items():
        p50, p95 = p50_p95(values)
        unit = "" if "per second" in label or "tickets" in label else " ms"
        print(f"| {label} | {p50:.1f}{unit} | {p95:.1f}{unit} |", flush=True)


if __name__ == "__main__":
    main()
