"""The device's gallery, as the gateway sends it.

Snapshots arrive on `cmd/gallery` (retained: the newest one is waiting on every
reconnect). Each is verified (gateway signature), decrypted (the bundle's
gallery key) and, if newer than what the device has, written to disk exactly
as received -- so the gallery at rest is encrypted and signed, and a stolen
disk yields no templates -- then swapped in for matching, and confirmed to the
gateway with a `gallery` event. The file is replaced atomically (write, fsync,
rename): a crash leaves the old gallery or the new one, never half of one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from edge.link.at_rest import write_atomically
from wire.bundle import DeviceBundle
from edge.vision.gallery import GalleryIndex
from wire.gallery import Gallery, GalleryError, open_gallery

log = logging.getLogger(__name__)


class GallerySync:
    def __init__(self, bundle: DeviceBundle, path: Path,
                 on_change: Callable[[GalleryIndex, Gallery], None] | None = None):
        self.bundle = bundle
        self.path = Path(path)
        self.on_change = on_change
        self.current: Gallery | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition()  # notified whenever `current` changes

    @property
    def version(self) -> int:
        return self.current.version if self.current else 0

    def load(self) -> Gallery | None:
        """The gallery kept on disk from an earlier run, if any (checked like a fresh one)."""
        if not self.path.exists():
            return None
        try:
            gallery = self._open(self.path.read_bytes())
        except GalleryError as exc:
            log.error("gallery file %s refused (%s); waiting for the gateway's", self.path, exc)
            return None
        self._applied(gallery)
        return gallery

    def handle(self, payload: bytes) -> None:
        """A `cmd/gallery` payload from the broker."""
        try:
            gallery = self._open(payload)
        except GalleryError as exc:
            log.error("gallery update refused: %s", exc)
            return
        with self._lock:
            if gallery.version <= self.version:
                return  # the retained copy of what we already run, or an older one
            write_atomically(self.path, payload)
            self._applied(gallery)
        log.info("gallery version %d applied: %d subjects", gallery.version, len(gallery.subjects))
        if self.on_change:
            self.on_change(index_of(gallery), gallery)

    def wait(self, timeout_s: float) -> bool:
        """Wait for a first gallery (from disk or the gateway)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.current is not None, timeout_s)

    def wait_for_subject(self, subject: str, timeout_s: float) -> bool:
        """Wait until the gallery holds `subject` (a newer version may be on its way); False after `timeout_s`."""
        with self._changed:
            return self._changed.wait_for(lambda: self.current is not None and subject in self.current.subjects,
                                          timeout_s)

    def _applied(self, gallery: Gallery) -> None:
        with self._changed:
            self.current = gallery
            self._changed.notify_all()

    def _open(self, payload: bytes) -> Gallery:
        gallery = open_gallery(payload, self.bundle.device, self.bundle.gallery_key, self.bundle.gateway_key)
        if gallery.pack != self.bundle.model_pack:
            raise GalleryError(f"gallery templates are for pack {gallery.pack}, this device runs "
                               f"{self.bundle.model_pack}")
        return gallery


def index_of(gallery: Gallery) -> GalleryIndex:
    return GalleryIndex(gallery.subjects, gallery.templates)
