"""Model packs from the gateway (issue 29): fetched, checked, self-tested, switched to, the previous one kept.

A pack update, once its command is checked (edge/updates/commands.py: signature, device, replay, downgrade) and found
to be for the pack this device runs, is prepared on a thread of its own while the node goes on: the free disk is
checked, the files are fetched over HTTPS and checked against their hashes (edge/updates/download.py), and the pack
is self-tested -- it must embed the update's reference photos within tolerance of the embeddings the fleet's pack
gives them, so that the templates in this device's gallery still match. Only then does the node switch to it
(edge/node/managed.py): it restarts on the new pack and must show it works, else it switches back by itself.

On disk, under `<models.dir>/packs/<pack>/`: a folder per version holding its files and the signed command they came
with (checked again whenever the pack is opened), and `state.json` naming the version running and the one before,
which is kept for going back.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.link.at_rest import read_json, write_atomically
from edge.updates.commands import UpdateRefused
from edge.updates.download import Downloader, DownloadError
from models import LoadedPack
from models.manifest import Manifest, ModelFileError, parse_manifest
from models.pack import load_pack
from models.photos import read_image, template_from_image
from models.quality import QualitySettings
from models.settings import ModelSettings
from wire.bundle import DeviceBundle
from wire.commands import CommandRefused
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
        return read_json(self.root / "state.json") or {"version": 0, "previous": None}

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
        write_atomically(self.root / "state.json", json.dumps(state).encode())
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


class PackInstaller:
    """Installs versions of this device's model pack: fetched, checked and self-tested into their own folder; the
    node then switches to one (`installed.switch`) and back (`installed.restore`)."""

    kind = "pack"

    def __init__(self, bundle: DeviceBundle, models: ModelSettings, quality: QualitySettings):
        self.bundle, self.models, self.quality = bundle, models, quality
        self.installed = InstalledPacks(models.dir, bundle)
        self.downloader = Downloader(bundle)

    @property
    def running(self) -> int:
        return self.installed.running

    def refuses(self, command: UpdateCommand) -> str | None:
        if command.name != self.bundle.model_pack:
            return f"for pack {command.name}; this device runs {self.bundle.model_pack}"
        return None

    def prepare(self, command: UpdateCommand, payload: bytes) -> float | None:
        """Fetch the version's files, keep its signed command beside them and self-test it; its least cosine."""
        if not command.version:
            return None  # the pack the device came with: nothing to fetch
        folder = self.installed.folder(command.version)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / ".fetching").touch()
        try:
            self.downloader.fetch_all(command.url, command.files, folder)
        except DownloadError as exc:
            raise UpdateRefused(str(exc)) from None
        finally:
            (folder / ".fetching").unlink(missing_ok=True)
        write_atomically(folder / SIGNED, payload)
        running = RunningPack(command.version, parse_manifest(command.manifest), folder)
        try:
            pack = open_installed(running, self.models.model_copy(update={"threads": 1}))
        except ModelFileError as exc:
            raise UpdateRefused(str(exc)) from None
        score = self_test(pack, command, folder, self.quality)
        if score < command.tolerance:
            raise UpdateRefused(f"self-test failed: a reference photo embeds at cosine {score:.3f} to the fleet's, "
                                f"below {command.tolerance:.2f}", score)
        log.info("update %d: self-test passed (least cosine %.3f)", command.sequence, score)
        return score
