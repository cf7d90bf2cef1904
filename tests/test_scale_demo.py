"""`facegate demo --scale`: PostgreSQL, two gateway replicas, two sites bridged over TLS -- and the pages show both."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from conftest import REPO
from stack import wait_for

SITES = ("north-gate", "south-gate")


@pytest.fixture
def page(browser):  # conftest's: Debian's Chromium
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    yield context.new_page()
    context.close()


def test_the_scaled_out_demo_runs_two_sites_through_two_replicas_and_the_pages_show_both(page):
    # Not under pytest's owner-only folders: PostgreSQL's server runs as its own user (when we are root).
    workdir = Path(tempfile.mkdtemp(prefix="facegate-scale-")) / "scale"
    workdir.parent.chmod(0o755)
    demo = subprocess.Popen([sys.executable, "-m", "facegate", "demo", "--scale", "--workdir", str(workdir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(demo.stderr), daemon=True).start()
    try:
        banner = ""
        for line in demo.stdout:
            banner += line
            if "Ctrl-C stops everything" in line:
                break
        assert "replicas gw-1, gw-2" in banner, "".join(errors)[-3000:]
        urls = re.findall(r"http://127\.0\.0\.1:\d+", banner)
        assert len(urls) == 2
        tokens = [httpx.post(f"{url}/api/auth/token", json={"username": "operator", "password": "facegate-demo"})
                  .json()["access_token"] for url in urls]

        def sites_seen(url: str, token: str) -> set[str]:
            events = httpx.get(f"{url}/api/events", params={"kind": "verdict", "limit": 1000},
                               headers={"Authorization": f"Bearer {token}"}).json()["events"]
            return {e["site"] for e in events}

        # Each site's gate publishes to its own broker; the bridges carry the verdicts to the centre, where
        # either replica may store them -- and both replicas serve them all.
        for url, token in zip(urls, tokens):
            wait_for(lambda: sites_seen(url, token) >= set(SITES), 180, f"verdicts from both sites at {url}",
                     every=1)

        # The live gate page of the second replica shows both sites' verdicts as they arrive.
        page.goto(urls[1] + "/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "facegate-demo")
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        for site in SITES:
            expect(page.locator("body")).to_contain_text(f"{site}-01", timeout=60_000)
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=90) == 0, "".join(errors)[-3000:]
    assert not (workdir / "postgres" / "data" / "postmaster.pid").exists()  # PostgreSQL was stopped too
    shutil.rmtree(workdir.parent, ignore_errors=True)
