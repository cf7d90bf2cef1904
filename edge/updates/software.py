"""FaceGate itself from the gateway (issue 29): a release installed into a new virtual environment beside the running
one, switched to atomically, started on trial, switched back by itself when it does not come up healthy.

The device runs under the launcher (edge/updates/launcher.py, `facegate edge launch --home HOME -- ARGS`), which
keeps a home folder:

    HOME/releases/<n>/env        release n's environment (0: the one the device was provisioned with, a link to it)
    HOME/releases/<n>/files/     its wheels and requirements.lock, as fetched (hash-checked)
    HOME/releases/<n>/update.signed   the signed command it came with
    HOME/current -> releases/<n> the release that runs: one symlink, replaced atomically
    HOME/switch.json             a switch under way: the release switched to, the one before, the command's sequence
    HOME/failed.json             a switch the launcher undid, and why (the release switched back to reports it)

Preparing a release (on a thread, while the node goes on): its files are fetched and hash-checked, a virtual
environment is made (`venv --without-pip`), its site-packages extended with the provisioned environment's (a `.pth`
line: the dependencies that environment has at the locked versions are shared, not installed again), and pip
installs the lock into it offline and in hash-checking mode (`--no-index --require-hashes`): FaceGate's wheel, and
any dependency at another version from the wheels the release ships. A dependency it neither has nor ships fails the
install: refused. The environment must then say it is FaceGate at the release's version.

Switching (edge/node/managed.py, between frames): the node stops cleanly, `switch.json` is written, then `current`
is replaced (a new symlink renamed over it), and the process exits with SWITCH_EXIT for the launcher to start the
new release on trial. Killed before the rename, the old release still runs and prepares the update again (its
retained command comes back: a sequence is taken only once it is applied or refused); after, the new release starts
on trial. On trial, the new release writes HOME/healthy once its node works (every camera a frame, the detector run
on it) and says `applied`; if it exits first or stays silent past the launcher's health timeout, the launcher puts
`current` back, records why in failed.json, and starts the release before, which says `refused` with that reason.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from edge.link.at_rest import read_json, write_atomically
from edge.updates.commands import Prepared, UpdateRefused
from edge.updates.download import Downloader, DownloadError
from wire.bundle import DeviceBundle
from wire.signing import public_key_from_text
from wire.updates import UpdateCommand, open_update

log = logging.getLogger(__name__)

SWITCH_EXIT = 75  # the node stopped to run another release: the launcher starts `current` again
HOME_ENV = "FACEGATE_HOME"  # set by the launcher for the process it runs
SIGNED = "update.signed"
INSTALL_TIMEOUT_S = 600.0


def current_release(home: Path) -> int:
    """The number of the release `HOME/current` points at (0: the provisioned one)."""
    return int(Path(os.readlink(home / "current")).name)


def point_current(home: Path, version: int) -> None:
    """Make `HOME/current` point at release `version`, atomically (a new link renamed over the old one)."""
    tmp = home / "current.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(Path("releases") / str(version), tmp)
    os.replace(tmp, home / "current")


class SoftwareInstaller:
    """Installs releases of FaceGate beside the running one, for the launcher to switch to."""

    kind = "software"

    def __init__(self, bundle: DeviceBundle, home: Path | None):
        self.bundle, self.home = bundle, Path(home) if home else None
        self.downloader = Downloader(bundle)

    @property
    def running(self) -> int:
        return current_release(self.home) if self.home else 0

    def refuses(self, command: UpdateCommand) -> str | None:
        if self.home is None:
            return "this device is not run by the launcher (`facegate edge launch`): it cannot switch releases"
        if command.name != "facegate" or (command.version and not command.release):
            return "not a FaceGate release"
        return None

    def prepare(self, command: UpdateCommand, payload: bytes) -> float | None:
        """Fetch the release, make its environment and install it there; nothing runs on it yet."""
        folder = self.home / "releases" / str(command.version)
        if command.version == 0:  # back to the provisioned release: it is there; its command, for its trial
            write_atomically(folder / SIGNED, payload)
            return None
        try:
            self.downloader.fetch_all(command.url, command.files, folder / "files")
        except DownloadError as exc:
            raise UpdateRefused(str(exc)) from None
        env = folder / "env"
        if env.exists() and not _installed(env, command.release):
            shutil.rmtree(env)  # made by a run that was stopped half way: made again
        if not env.exists():
            self._install(env, folder / "files")
        if not _installed(env, command.release):
            raise UpdateRefused(f"the new environment does not hold FaceGate {command.release}")
        write_atomically(folder / SIGNED, payload)
        log.info("update %d: FaceGate %s installed in %s", command.sequence, command.release, env)
        return None

    def _install(self, env: Path, files: Path) -> None:
        making = env.with_name("env.making")
        shutil.rmtree(making, ignore_errors=True)
        _run([sys.executable, "-m", "venv", "--without-pip", str(making)], "making its environment")
        shared = _purelib(self.home / "releases" / "0" / "env" / "bin" / "python")
        (Path(_purelib(making / "bin" / "python")) / "facegate-shared.pth").write_text(shared + "\n")
        _run([sys.executable, "-m", "pip", "--python", str(making / "bin" / "python"), "install", "--quiet",
              "--no-index", "--find-links", str(files), "--require-hashes", "--no-deps", "-r",
              str(files / "requirements.lock")], "installing it")
        os.replace(making, env)

    def switch(self, prepared: Prepared) -> None:
        """Make the prepared release the one the launcher starts, on trial: `switch.json`, then `current`."""
        command = prepared.command
        write_atomically(self.home / "switch.json", json.dumps(
            {"version": command.version, "previous": self.running, "sequence": command.sequence}).encode())
        point_current(self.home, command.version)
        log.info("switched to FaceGate %s (release %d): the launcher starts it on trial",
                 command.release or "as provisioned", command.version)

    def on_trial(self) -> Prepared | None:
        """The switch this process is on trial for, if it is the release switched to (its command, from disk)."""
        switch = read_json(self.home / "switch.json") if self.home else None
        if not switch or switch.get("version") != self.running:
            return None
        return self._prepared(switch["version"])

    def healthy(self) -> None:
        """Tell the launcher this release came up healthy."""
        (self.home / "healthy").touch()

    def undone(self) -> tuple[Prepared, str] | None:
        """A switch the launcher undid (the update it was and why), once: it is forgotten once read."""
        failed = read_json(self.home / "failed.json") if self.home else None
        if not failed:
            return None
        (self.home / "failed.json").unlink(missing_ok=True)
        prepared = self._prepared(failed["version"])
        return (prepared, failed["reason"]) if prepared else None

    def _prepared(self, version: int) -> Prepared | None:
        try:
            payload = (self.home / "releases" / str(version) / SIGNED).read_bytes()
            return Prepared(open_update(payload, self.bundle.device, public_key_from_text(self.bundle.gateway_key)),
                            None)
        except (OSError, ValueError) as exc:
            log.error("release %d's command on disk refused: %s", version, exc)
            return None


def _installed(env: Path, release: str) -> bool:
    """Whether the environment at `env` says it is FaceGate `release`."""
    python = env / "bin" / "python"
    if not python.exists():
        return False
    found = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('facegate'))"],
                           capture_output=True, text=True, timeout=60, cwd=env)
    return found.returncode == 0 and found.stdout.strip() == release


def _purelib(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        raise UpdateRefused(f"{what} failed: {(done.stderr or done.stdout).strip()[-800:]}")
