"""The launcher: runs the device's FaceGate release, starts a new one on trial and switches back by itself when it
does not come up healthy (issue 29; edge/updates/software.py has the home folder's layout).

`facegate edge launch --home HOME -- edge run --bundle ...` runs `HOME/current/env/bin/python -m facegate ARGS`
with HOME in its environment, from HOME, and:

- exit SWITCH_EXIT: the node switched releases; the launcher starts `current` again -- on trial, as `switch.json`
  says. A release on trial must write HOME/healthy within `health_timeout_s`; if it exits first or stays silent,
  the launcher stops it, points `current` back at the release before, writes `failed.json` (the release that
  failed and why) and starts the release before, which reports it.
- a switch found half done at start (`switch.json` naming a release `current` does not point at: the process was
  killed before the switch itself) is dropped: the release that runs prepares the update again.
- any other exit but 0 (a crash, a kill) is restarted after `restart_s`; 0, or SIGTERM/SIGINT to the launcher
  (forwarded to the release), ends it.

The launcher is the provisioned environment's: it is not updated with the releases it runs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.link.at_rest import read_json, write_atomically
from edge.updates.software import HOME_ENV, SWITCH_EXIT, current_release, point_current

log = logging.getLogger(__name__)


def prepare_home(home: Path) -> None:
    """A home for the first start: release 0 is the environment this launcher runs in, and it is current."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    first = home / "releases" / "0"
    if not (first / "env").exists():
        first.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.symlink(sys.prefix, first / "env")
    if not (home / "current").is_symlink():
        point_current(home, 0)


class Launcher:
    def __init__(self, home: Path, args: list[str], health_timeout_s: float = 120.0, restart_s: float = 2.0):
        self.home, self.args = Path(home).resolve(), args
        self.health_timeout_s, self.restart_s = health_timeout_s, restart_s
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()

    def stop(self, *_) -> None:
        """Stop the release running, and the launcher with it."""
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()

    def run(self) -> int:
        prepare_home(self.home)
        while not self._stop.is_set():
            switch = read_json(self.home / "switch.json")
            if switch and switch.get("version") != current_release(self.home):
                log.warning("a switch to release %s was not finished; running release %d", switch.get("version"),
                            current_release(self.home))
                (self.home / "switch.json").unlink(missing_ok=True)
                switch = None
            (self.home / "healthy").unlink(missing_ok=True)
            self._start()
            if switch and not self._trial(switch):
                continue
            code = self.proc.wait()
            if self._stop.is_set() or code == 0:
                return 0 if code in (0, -signal.SIGTERM) else code
            if code != SWITCH_EXIT:
                log.error("release %d exited with %d; starting it again", current_release(self.home), code)
                self._stop.wait(self.restart_s)
        return 0

    def _start(self) -> None:
        python = self.home / "current" / "env" / "bin" / "python"
        log.info("starting release %d: %s", current_release(self.home), " ".join(self.args))
        self.proc = subprocess.Popen([str(python), "-m", "facegate", *self.args], cwd=self.home,
                                     env={**os.environ, HOME_ENV: str(self.home)})

    def _trial(self, switch: dict) -> bool:
        """Wait for the release on trial to say it is healthy; False (and switched back) if it does not."""
        deadline = time.monotonic() + self.health_timeout_s
        while not (self.home / "healthy").exists():
            code = self.proc.poll()
            if code is not None and code != SWITCH_EXIT:
                why = f"it exited with status {code} before it was healthy"
                break
            if time.monotonic() > deadline:
                why = f"it was not healthy within {self.health_timeout_s:.0f} s"
                self.proc.kill()
                self.proc.wait()
                break
            if self._stop.wait(0.2):
                return True  # stopping: the run loop waits for the release to end
        else:
            (self.home / "switch.json").unlink(missing_ok=True)
            log.info("release %d is healthy", switch["version"])
            return True
        previous = int(switch.get("previous") or 0)
        log.error("release %d failed its health check (%s): back to release %d", switch["version"], why, previous)
        write_atomically(self.home / "failed.json", json.dumps(
            {"version": switch["version"], "sequence": switch.get("sequence"), "reason": why}).encode())
        point_current(self.home, previous)
        (self.home / "switch.json").unlink(missing_ok=True)
        return False


def launch(home: Path, args: list[str], health_timeout_s: float = 120.0) -> int:
    """Run the launcher until it is stopped (SIGTERM, SIGINT) or its release ends normally."""
    launcher = Launcher(home, args, health_timeout_s)
    signal.signal(signal.SIGTERM, launcher.stop)
    signal.signal(signal.SIGINT, launcher.stop)
    return launcher.run()
