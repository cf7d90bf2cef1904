"""The README's screenshots: every page of `facegate demo`, in Vietnamese and English, and on a phone.

    .venv/bin/python docs/screenshots/capture.py

Runs the demo in a temporary folder (port 8080 must be free), waits until it
serves, then Debian's Chromium takes each page as its role sees it --
1366x768 in both languages, 390x844 in Vietnamese -- into this folder as
`<page>-<lang>.png` and `phone-<page>.png`, and stops the demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BASE = "http://127.0.0.1:8080"
PASSWORD = "facegate-demo"
PAGES = [("gate", "operator", "/gate"), ("exam", "supervisor", "/exam"), ("admin", "admin", "/admin"),
         ("audit", "auditor", "/audit")]


def shoot(page: Page, name: str, role: str, path: str, lang: str) -> None:
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "facegate_lang", "value": lang, "url": BASE}])
    page.goto(BASE + "/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(BASE + path)
    if name.startswith(("exam", "phone-exam")):  # the demo's session, opened at its own address
        page.goto(BASE + page.locator("#sessions a").first.get_attribute("href"))
        page.locator("#detail .timeline").wait_for()
    page.wait_for_timeout(2500)  # the live page's stream and the tables fill
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=False)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="facegate-shots-"))
    demo = subprocess.Popen([sys.executable, "-m", "facegate", "demo", "--workdir", str(workdir)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for line in demo.stdout:
            if "Ctrl-C stops everything" in line:
                break
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            for lang in ("vi", "en"):
                page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
                for name, role, path in PAGES:
                    shoot(page, f"{name}-{lang}", role, path, lang)
                page.context.close()
            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                        is_mobile=True).new_page()
            for name, role, path in PAGES:
                shoot(phone, f"phone-{name}", role, path, "vi")
            browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)


if __name__ == "__main__":
    main()
