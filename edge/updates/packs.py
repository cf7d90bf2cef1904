"""Model packs from the gateway (issue 29): fetched, checked, self-tested, switched to, the previous one kept.

A `cmd/update` (wire/updates.py) is checked first -- the gateway's signature, this device, a sequence number above
the last one taken (else it is a replay), the pack this device runs, and a version not older than the running one
unless it is signed as a rollback. Then, on a thread of its own while the node goes on: the free disk is checked,
the files are fetched over HTTPS and checked against their hashes (edge/updates/download.py), and the pack is
self-tested -- it must embed the update's reference photos within tolerance of the embeddings the fleet's pack gives
them, so that the templates in this device's gallery still match. Only then does the node switch to it (edge/node/
managed.py): it restarts on the new pack and must show it works, else it switches back by itself.

On disk, under `<models.dir>/packs/<pack>/`: a folder per version holding its files and the signed command they came
with (checked again whenever the pack is opened), and `state.json` naming the version running and the one before,
which is kept for going back. Every outcome goes to the gateway as an `update` event.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.link.events import DeviceEvents
from edge.updates.download import Downloader, DownloadError
from models import LoadedPack
from models.manifest import Manifest, ModelFileError, parse_manifest
from models.pack import load_pack
from models.photos import read_image, template_from_image
from models.quality import QualitySettings
from models.settings import ModelSettings
from wire.bundle import DeviceBundle
from wire.commands import CommandRefused
from wire.events import UpdateEvent
from wire.signing import public_key_from_text
from wire.updates import UpdateCommand, open_update

log = logging.getLogger(__name__)

SIGNED = "update.signed"  # the command a version came with, beside its files


@dataclass(frozen=True)
class RunningPack:
    """An installed version of a pack, checked: its manifest (from the signed command) and folder."""

    version: int
    manifest: Manifest
    folder: Path


class InstalledPacks:
    """The versions of this device's pack fetched from the gateway, and which one runs (0: the pack it came with)."""

    def __init__(self, models_dir: Path, bundle: DeviceBundle):
        self.root = Path(models_dir) / "packs" / bundle.model_pack
        self.bundle = bundle

    def folder(self, version: int) -> Path:
        return self.root / str(version)

    def state(self) -> dict:
        """{"version": running, "previous": the one before or None}."""
        try:
            return json.loads((self.root / "state.json").read_text())
        except (OSError, ValueError):
            return {"version": 0, "previous": None}

    @property
    def running(self) -> int:
        return int(self.state().get("version") or 0)

    def switch(self, version: int) -> dict:
        """Run `version` from now on (the one running now kept as the previous); the state before, for `restore`."""
        before = self.state()
        if before.get("version") != version:
            self.restore({"version": version, "previous": before.get("version")})
        return before

    def restore(self, state: dict) -> None:
        """Write `state` atomically (a crash leaves the old one or the new one), and delete versions it names not."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.root / "state.json.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / "state.json")
        kept = {str(state.get("version")), str(state.get("previous"))}
        for old in self.root.iterdir():
            if old.is_dir() and old.name not in kept and old.name.isdigit() and not self._busy(old):
                shutil.rmtree(old, ignore_errors=True)

    def _busy(self, folder: Path) -> bool:
        return (folder / ".fetching").exists()

    def open_running(self) -> RunningPack | None:
        """The version running, checked (its command's signature, this device); None: the built-in pack."""
        version = self.running
        if not version:
            return None
        folder = self.folder(version)
        try:
            command = open_update((folder / SIGNED).read_bytes(), self.bundle.device,
                                  public_key_from_text(self.bundle.gateway_key))
            if command.version != version:
                raise CommandRefused("malformed", f"{SIGNED} is for version {command.version}")
            return RunningPack(version, parse_manifest(command.manifest), folder)
        except (OSError, ValueError) as exc:
            log.error("pack %s version %d on disk refused (%s): running the pack this device came with",
                      self.bundle.model_pack, version, exc)
            return None


def open_installed(running: RunningPack | None, settings: ModelSettings) -> LoadedPack | None:
    """The pack `running` names, opened with `settings` (its files verified against its manifest); None for the
    built-in one."""
    if running is None:
        return None
    return load_pack(settings.pack, [running.folder], settings.runtime(), manifest=running.manifest,
                     detector_max_side=settings.detector_max_side,
                     detector_score_threshold=settings.detector_score_threshold, flip_average=settings.flip_average)


def self_test(pack: LoadedPack, command: UpdateCommand, folder: Path, quality: QualitySettings) -> float:
    """The least cosine between the embedding `pack` gives each reference photo and the one the command carries
    (0 for a photo it finds no usable face in)."""
    least = 1.0
    for reference in command.reference:
        image = read_image(folder / reference.file)
        made = template_from_image(image, pack, quality) if image is not None else "not an image"
        cosine = 0.0 if isinstance(made, str) else float(np.dot(made.embedding, reference.vector()))
        least = min(least, cosine)
    return least


@dataclass
class Prepared:
    """A pack version fetched and self-tested, waiting for the node to switch to it."""

    command: UpdateCommand
    self_test: float | None


class PackUpdates:
    """This device's pack updates from the gateway: what is checked, fetched and self-tested, and what is reported.

    One object for the life of the process; each link the node opens hands it its commands (`handle`) and its
    events (`events`)."""

    def __init__(self, bundle: DeviceBundle, models: ModelSettings, quality: QualitySettings, state_path: Path):
        self.bundle, self.models, self.quality = bundle, models, quality
        self.installed = InstalledPacks(models.dir, bundle)
        self.state_path = Path(state_path)  # the last sequence number taken, beside the outbox
        self.events: DeviceEvents | None = None
        self.ready = threading.Event()  # set while a prepared version waits
        self._prepared: Prepared | None = None
        self._latest = 0  # the newest command's sequence: a preparation for an older one is dropped
        self._lock = threading.Lock()
        self.downloader = Downloader(bundle)

    @property
    def sequence(self) -> int:
        try:
            return int(json.loads(self.state_path.read_text())["sequence"])
        except (OSError, ValueError, KeyError):
            return 0

    def handle(self, payload: bytes) -> None:
        """A `cmd/update` payload from the broker (an empty one: the gateway cleared it)."""
        if not payload:
            return
        try:
            command = open_update(payload, self.bundle.device, public_key_from_text(self.bundle.gateway_key))
        except CommandRefused as exc:
            self._report(None, "refused", reason=f"{exc.reason}: not applied ({exc})")
            return
        with self._lock:
            taken = self.sequence
            if command.sequence == taken or command.sequence == self._latest:
                return  # the retained copy of one taken already
            running = self.installed.running
            if command.sequence < taken:
                return self._report(command, "refused", reason=f"replayed: update {command.sequence} is older "
                                                               f"than update {taken}, taken already")
            self._take(command.sequence)
            if command.name != self.bundle.model_pack:
                return self._report(command, "refused", reason=f"for pack {command.name}; this device runs "
                                                               f"{self.bundle.model_pack}")
            if command.version < running and not command.rollback:
                return self._report(command, "refused", reason=f"downgrade: version {command.version} is older "
                                                               f"than version {running}, running, and not signed "
                                                               "as a rollback")
            self._prepared = None
            self.ready.clear()
            if command.version == running:
                return self._report(command, "applied", reason="running it already")
        log.info("update %d: pack %s version %d%s", command.sequence, command.name, command.version,
                 " (a rollback)" if command.rollback else "")
        threading.Thread(target=self._prepare, args=(command, payload), name="pack-update", daemon=True).start()

    def take(self) -> Prepared | None:
        """The prepared version waiting to be switched to, if any."""
        with self._lock:
            prepared, self._prepared = self._prepared, None
            self.ready.clear()
            return prepared

    def applied(self, prepared: Prepared) -> None:
        """The node runs the prepared version now."""
        if self.events:
            self.events.pack_version = prepared.command.version
        self._report(prepared.command, "applied", self_test=prepared.self_test)

    def refused(self, prepared: Prepared, reason: str) -> None:
        """The node could not run the prepared version and runs the one before again."""
        self._report(prepared.command, "refused", reason=reason, self_test=prepared.self_test)

    def _prepare(self, command: UpdateCommand, payload: bytes) -> None:
        score = None
        try:
            if command.version:
                folder = self.installed.folder(command.version)
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                (folder / ".fetching").touch()
                try:
                    self.downloader.fetch_all(command.url, command.files, folder)
                finally:
                    (folder / ".fetching").unlink(missing_ok=True)
                _write(folder / SIGNED, payload)
                running = RunningPack(command.version, parse_manifest(command.manifest), folder)
                pack = open_installed(running, self.models.model_copy(update={"threads": 1}))
                score = self_test(pack, command, folder, self.quality)
                del pack
                if score < command.tolerance:
                    raise DownloadError(f"self-test failed: a reference photo embeds at cosine {score:.3f} to the "
                                        f"fleet's, below {command.tolerance:.2f}")
                log.info("update %d: self-test passed (least cosine %.3f)", command.sequence, score)
        except (DownloadError, ModelFileError, ValueError, OSError) as exc:
            log.error("update %d: %s", command.sequence, exc)
            self._report(command, "refused", reason=str(exc), self_test=score)
            return
        except Exception as exc:  # a pack that does not even load (a bad graph): refused, the node goes on
            log.exception("update %d: the pack does not load", command.sequence)
            self._report(command, "refused", reason=f"the pack does not load: {exc}", self_test=score)
            return
        with self._lock:
            if command.sequence != self._latest:
                return  # a newer command came meanwhile
            self._prepared = Prepared(command, score)
            self.ready.set()

    def _take(self, sequence: int) -> None:
        self._latest = sequence
        _write(self.state_path, json.dumps({"sequence": sequence}).encode())

    def _report(self, command: UpdateCommand | None, outcome: str, reason: str = "",
                self_test: float | None = None) -> None:
        if outcome == "refused":
            log.error("update %s refused: %s", command.sequence if command else "message", reason)
        if self.events:
            self.events.append(UpdateEvent, name=command.name if command else self.bundle.model_pack,
                               sequence=command.sequence if command else None,
                               version=command.version if command else None, outcome=outcome,
                               running=self.installed.running, rollout=command.rollout if command else None,
                               self_test=self_test, reason=reason[:1000])


def _write(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically, owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
