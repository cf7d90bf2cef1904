"""The audit log at scale: the auditor's searches over HTTP with millions of entries stored.

    .venv/bin/python benchmarks/audit_search.py [--entries 2000000] [--requests 50] [--db postgresql://...]

Fills a gateway database (SQLite in a temporary folder unless `--db`) with a
chain of `--entries` entries as a province's gateway writes them -- nearly all
`event.stored` by devices, one in a thousand a person's action -- starts
`facegate gateway run --no-ingest` on it and times, per request, the audit
page's queries through the real API with the auditor's token: p50 and p95 of
`--requests` each. The baseline is the page before this release, which read the
whole chain in pages of 1,000 (`?after=`) to show the newest 200: the time to
its first paint is the time to read everything, timed once.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import wait_port  # noqa: E402

from facegate.postgres import free_port  # noqa: E402
from gateway.services.security.audit import open_store  # noqa: E402
from gateway.services.security.auth import Auth  # noqa: E402
from wire.events import utc_text  # noqa: E402

PASSWORD = "benchmark-password"
PEOPLE_ACTIONS = ("exam.flag.confirmed", "exam.flag.dismissed", "events.read", "subject.enrolled", "user.login")


def fill(db: str, secrets: Path, entries: int) -> None:
    """`entries` chain entries over the last 30 days, in transactions of 20,000 (as ingest's batches commit)."""
    store, _anchor = open_store(db, secrets)
    Auth(store).add_user("auditor-1", "auditor", PASSWORD)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    step = timedelta(days=30) / entries
    rng = random.Random(6)
    written, started = 0, time.perf_counter()
    while written < entries:
        with store.db.transaction() as tx:
            for i in range(written, min(entries, written + 20_000)):
                at = utc_text(start + i * step)
                if i % 1000 == 500:
                    tx.audit(f"user:person-{rng.randrange(40)}", rng.choice(PEOPLE_ACTIONS), f"flag-{i}",
                             {"note": "seen on camera 2"}, at=at)
                else:
                    tx.audit(f"device:gate-{i % 300:03d}", "event.stored", f"event-{i}", {"digest": "0" * 64}, at=at)
        written = min(entries, written + 20_000)
        print(f"  filled {written:,} entries ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    store.db.engine.dispose()


def timed(client: httpx.Client, path: str, params: dict, n: int) -> tuple[float, float]:
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params)
        r.raise_for_status()
        ms.append(1000 * (time.perf_counter() - t))
    ms.sort()
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", help="a postgresql:// database to fill (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="facegate-audit-"))
    db = args.db or str(work / "gateway.db")
    fill(db, work / "secrets", args.entries)
    port = free_port()
    gateway = subprocess.Popen([sys.executable, "-m", "facegate", "gateway", "run", "--db", db, "--no-ingest",
                                "--secrets-dir", str(work / "secrets"), "--port", str(port)], cwd=REPO)
    try:
        wait_port(port, 120)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        token = client.post("/api/auth/token", json={"username": "auditor-1", "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)
        middle = client.get("/api/audit", params={"who": "devices", "limit": 1}).json()[0]["seq"] // 2
        people = client.get("/api/audit", params={"who": "people", "limit": 1000}).json()
        target = people[len(people) // 2]["target"]
        queries = [
            ("auth floor: /api/me", "/api/me", {}),
            ("page opens: people's newest 100", "/api/audit", {"who": "people"}),
            ("devices' newest 100", "/api/audit", {"who": "devices"}),
            ("everything, a page from the middle of the chain", "/api/audit", {"who": "all", "before": middle}),
            ("action = exam.flag.confirmed", "/api/audit", {"action": "exam.flag.confirmed"}),
            ("action prefix exam.flag.*", "/api/audit", {"action": "exam.flag.*"}),
            ("one actor (a gate), a week ago ± 1 h", "/api/audit",
             {"actor": "device:gate-007", "since": (week_ago - timedelta(hours=1)).isoformat(),
              "until": (week_ago + timedelta(hours=1)).isoformat()}),
            ("people, a week ago ± 1 day", "/api/audit",
             {"who": "people", "since": (week_ago - timedelta(days=1)).isoformat(),
              "until": (week_ago + timedelta(days=1)).isoformat()}),
            ("one target", "/api/audit", {"target": target}),
            ("CSV of people's exam.flag.* (all matches)", "/api/audit/export.csv",
             {"who": "people", "action": "exam.flag.*"}),
        ]
        rows = [(label, *timed(client, path, params, args.requests)) for label, path, params in queries]
        started, after, pages = time.perf_counter(), 0, 0
        while page := client.get("/api/audit", params={"after": after, "limit": 1000}).json():
            after, pages = page[-1]["seq"], pages + 1
        baseline_s = time.perf_counter() - started
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    backend = "PostgreSQL" if db.startswith("postgresql") else "SQLite"
    print(f"\n| audit search, {args.entries:,} entries on {backend} ({args.requests} requests each) "
          "| p50 ms | p95 ms |")
    print("|---|---|---|")
    for label, p50, p95 in rows:
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")
    print(f"| baseline: the previous page's first paint (the whole chain, {pages:,} requests of 1,000) "
          f"| {1000 * baseline_s:,.0f} | (once) |")


if __name__ == "__main__":
    main()
