"""The model pack and the gallery a device runs with, opened from its settings: the builders' common ground."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import models.settings
from edge.settings import EdgeConfig
from edge.updates.packs import RunningPack, open_installed
from edge.vision.enrolment import build_gallery
from edge.vision.gallery import GalleryIndex, GalleryStore
from models import LoadedPack
from models.photos import PhotoResult

log = logging.getLogger(__name__)


class GalleryError(ValueError):
    """The gallery cannot be used with this model pack."""


def open_pack(config: EdgeConfig, cameras: int = 1, installed: RunningPack | None = None) -> LoadedPack:
    """The model pack the edge configuration names, for a node running `cameras` cameras: the version the gateway
    sent (`installed`, edge/updates/packs.py), or else the one the device came with.

    With several cameras and `[models] threads = 0`, each inference runs on one thread: two threads make one
    detection faster (6.5 ms instead of 8.5 ms for 720p on 2 cores) but cost more CPU in all (10.6 ms), and a
    node with many cameras is short of CPU, not of one detection's speed (docs/benchmarks.md)."""
    settings = config.models
    if cameras > 1 and settings.threads == 0:
        settings = settings.model_copy(update={"threads": 1})
    return open_installed(installed, settings) or models.settings.open_pack(settings)


def open_gallery(source: Path, pack: LoadedPack, config: EdgeConfig,
                 on_photo: Callable[[PhotoResult], None] | None = None) -> GalleryIndex:
    """A gallery index from a SQLite gallery file, or built in memory from a folder of photos."""
    if source.is_dir():
        store = GalleryStore(None)
        build_gallery(source, store, pack, config.quality, on_photo)
    elif source.is_file():
        store = GalleryStore(source)
    else:
        raise GalleryError(f"gallery {source} not found (give a folder of photos or a gallery database)")
    index = GalleryIndex.from_store(store, pack.name)
    if len(index) == 0:
        other = [p for p in store.packs() if p != pack.name]
        if other:
            raise GalleryError(f"gallery {source} holds templates for pack(s) {', '.join(other)}, not {pack.name}; "
                               f"rebuild it with `facegate gallery build`")
        log.warning("gallery %s is empty: every person will be 'unknown'", source)
    return index
