"""The pages at a province's scale: what each role waits for in a real browser, with millions of rows stored.

    .venv/bin/python benchmarks/pages.py [--events 1000000] [--audit 2000000] [--runs 20] [--db postgresql://...]

Fills a gateway database (SQLite in a temporary folder unless `--db`) with
`--audit` audit-chain entries (benchmarks/audit_search.py: nearly all devices'
`event.stored`, one in a thousand a person's action) and `--events` gate
verdicts from 20 gates over the last 30 days, then serves it with
`facegate gateway run --no-ingest`. Debian's Chromium (Playwright) opens each
page as its role, `--runs` times, and reports per page:

- first paint: the browser's first-contentful-paint of the shell;
- data shown: from navigation to the arrival of the request that brings the
  page's rows (they are drawn within milliseconds of it);

and per filter or paging action, the time from the click (or the filtered
address) to the new rows. The baseline, in the same run, is the same pages
on an empty database: what the data itself costs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from audit_search import fill as fill_audit  # noqa: E402
from ingest import wait_port  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from facegate.postgres import free_port  # noqa: E402
from gateway.services.security.audit import open_store  # noqa: E402
from gateway.services.security.auth import Auth  # noqa: E402
from gateway.services.devices.registry import add_site  # noqa: E402
from gateway.storage.events import StoredEvent  # noqa: E402
from wire import uuid7  # noqa: E402
from wire.events import utc_text  # noqa: E402

PASSWORD = "benchmark-password"
ROLES = ("operator", "supervisor", "admin")  # the auditor is made by audit_search.fill
CHROMIUM = "/usr/bin/chromium"
GATES = 20


def fill_events(db: str, secrets: Path, count: int) -> None:
    """`count` gate verdicts over the last 30 days, 20 gates, in transactions of 20,000 (one audit entry each: a
    bulk load, not ingest, so the audit chain keeps its own size)."""
    store, _anchor = open_store(db, secrets)
    for role in ROLES:
        Auth(store).add_user(f"{role}-1", role, PASSWORD)
    add_site(store, "site-a")
    start = datetime.now(timezone.utc) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    rng = random.Random(7)
    written, started = 0, time.perf_counter()
    while written < count:
        rows = []
        for i in range(written, min(count, written + 20_000)):
            at = utc_text(start + i * step)
            verdict = "granted" if i % 10 else rng.choice(("unknown", "spoof_suspected"))
            gate = f"gate-{i % GATES:02d}"
            subject = f"person-{rng.randrange(5000)}" if verdict == "granted" else None
            body = {"v": 1, "id": str(uuid7()), "kind": "verdict", "site": "site-a", "device": gate,
                    "seq": i // GATES + 1,
                    "captured_at": at, "model_pack": "buffalo_s", "camera": "cam-1", "track": i, "verdict": verdict,
                    "subject": subject, "score": 0.6, "runner_up": 0.1, "threshold": 0.36, "margin": 0.05,
                    "quality": 0.8, "frames": 3, "liveness_enabled": True, "liveness": 0.9}
            rows.append(StoredEvent(body["id"], "site-a", gate, "verdict", body["seq"], at, at, verdict, subject, 0.6,
                                    json.dumps(body, sort_keys=True, separators=(",", ":")), "c2ln").row())
        with store.db.transaction() as tx:
            store.events.insert(tx, rows)
            tx.audit("benchmark", "events.loaded", None, {"count": len(rows)})
        written += len(rows)
        print(f"  filled {written:,} events ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    store.db.engine.dispose()


def first_paint(page: Page) -> float:
    return page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN")


def data_arrived(page: Page, fragment: str) -> float:
    """When (ms from navigation) the last response whose address holds `fragment` was complete."""
    return page.evaluate("f => Math.max(...performance.getEntriesByType('resource')"
                         ".filter(e => e.name.includes(f)).map(e => e.responseEnd))", fragment)


def login(page: Page, base: str, role: str) -> None:
    page.context.add_cookies([{"name": "facegate_lang", "value": "en", "url": base}])
    page.goto(base + "/login")
    page.fill("input[name=username]", f"{role}-1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def measure(base: str, runs: int) -> dict[str, list[float]]:
    """Milliseconds per step, `runs` times each, on the gateway at `base`."""
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    today = datetime.now(zone).strftime("%d/%m/%Y 00:00")
    week_ago = (datetime.now(zone) - timedelta(days=7)).strftime("%d/%m/%Y %H:%M")
    pages = [  # (label, role, address, the request that brings the page's data)
        # (the gate page also asks for the doors' events, limit=50: "kind=verdict" tells its rows apart)
        ("live gate: today's verdicts", "operator", "/gate", "kind=verdict&limit=100"),
        ("gate history: one lane since midnight", "operator", f"/gate?device=gate-03&since={today}",
         "kind=verdict&limit=50"),
        ("gate history: unknown, a week ago on", "operator", f"/gate?verdict=unknown&since={week_ago}",
         "kind=verdict&limit=50"),
        ("exam review", "supervisor", "/exam", "/api/exam/sessions"),
        ("devices & people", "admin", "/admin", "/api/erasures"),
        ("audit: people's newest 100", "auditor", "/audit", "/api/audit?"),
        ("audit: who confirmed a flag (action filter)", "auditor", "/audit?action=exam.flag.confirmed", "/api/audit?"),
        ("audit: devices' newest 100", "auditor", "/audit?who=devices", "/api/audit?"),
    ]
    out: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        contexts = {}
        for role in {role for _l, role, _a, _f in pages}:
            contexts[role] = browser.new_context(viewport={"width": 1366, "height": 768})
            login(contexts[role].new_page(), base, role)
        for label, role, address, fragment in pages:
            page = contexts[role].new_page()
            for _ in range(runs):
                with page.expect_response(lambda r: fragment in r.url) as answer:
                    page.goto(base + address)
                answer.value.finished()
                page.wait_for_timeout(50)  # the rows are drawn, the resource timing recorded
                out.setdefault(f"{label}: first paint", []).append(first_paint(page))
                out.setdefault(f"{label}: data shown", []).append(data_arrived(page, fragment))
            page.close()
        # Paging: the next 100 (audit) or 50 (gate history) older rows, from the click to their arrival.
        for label, role, address, fragment, rows in (
                ("audit: older entries (paging)", "auditor", "/audit?who=devices", "/api/audit?", "#entries tr"),
                ("gate history: older verdicts (paging)", "operator", "/gate?verdict=granted&since=01/01/2020",
                 "kind=verdict&limit=50", "#verdicts tr")):
            page = contexts[role].new_page()
            for _ in range(runs):
                page.goto(base + address)
                older = page.locator("#older")
                try:
                    older.wait_for(state="visible", timeout=5000)
                except Exception:  # nothing older: the empty database
                    break
                before = page.locator(rows).count()
                started = time.perf_counter()
                with page.expect_response(lambda r: fragment in r.url and "before=" in r.url or "cursor=" in r.url):
                    older.click()
                page.locator(rows).nth(before).wait_for(state="attached")
                out.setdefault(label, []).append(1000 * (time.perf_counter() - started))
            page.close()
        browser.close()
    return out


def serve(db: str, secrets: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    gateway = subprocess.Popen([sys.executable, "-m", "facegate", "gateway", "run", "--db", db, "--no-ingest",
                                "--secrets-dir", str(secrets), "--port", str(port)], cwd=REPO)
    wait_port(port, 120)
    return gateway, f"http://127.0.0.1:{port}"


def p50_p95(values: list[float]) -> tuple[float, float]:
    values = sorted(v for v in values if v == v)  # NaN: no paint recorded
    return (statistics.median(values), values[int(0.95 * (len(values) - 1))]) if values else (float("nan"),) * 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", help="a postgresql:// database to fill (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="facegate-pages-"))
    results = {}
    for name, db, events, entries in (("empty database (baseline)", str(work / "empty.db"), 0, 0),
                                      ("full", args.db or str(work / "full.db"), args.events, args.audit)):
        secrets = work / f"secrets-{len(results)}"
        fill_audit(db, secrets, max(entries, 1))  # at least one: it also adds the auditor
        fill_events(db, secrets, events)
        gateway, base = serve(db, secrets)
        try:
            results[name] = measure(base, args.runs)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    backend = "PostgreSQL" if (args.db or "").startswith("postgresql") else "SQLite"
    print(f"\n| page, {args.events:,} events and {args.audit:,} audit entries on {backend} ({args.runs} runs) "
          "| p50 ms | p95 ms | baseline (empty) p50 / p95 ms |")
    print("|---|---|---|---|")
    for label, values in results["full"].items():
        p50, p95 = p50_p95(values)
        b50, b95 = p50_p95(results["empty database (baseline)"].get(label, []))
        print(f"| {label} | {p50:.0f} | {p95:.0f} | {b50:.0f} / {b95:.0f} |")


if __name__ == "__main__":
    main()
