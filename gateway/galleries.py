"""Keeps every device's gallery equal to what its people consented to.

A device's gallery is exactly the subjects whose live consent covers the
device's site and purpose (a gate device: purpose `gate`; an exam device:
`exam`), with templates from the device's model pack. Whenever that set
changes, the device gets a new version: sealed for it (wire/gallery.py),
published retained on its `cmd/gallery` and marked published once the broker
has it. The device confirms with a `gallery` event; erasures waiting on that
version are then confirmed (storage.gallery_applied).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.secrets import GatewaySecrets
from gateway.storage import Storage
from wire.commands import GALLERY
from wire.events import utc_text
from wire.gallery import seal_gallery
from wire.topics import cmd_topic

log = logging.getLogger(__name__)

# (topic, payload) -> True once the broker has acknowledged it
Publish = Callable[[str, bytes], bool]


class GalleryPusher:
    def __init__(self, storage: Storage, secrets: GatewaySecrets, publish: Publish, interval_s: float = 1.0):
        self.storage = storage
        self.secrets = secrets
        self.publish = publish
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gallery-pusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def poke(self) -> None:
        """Something changed (a consent, an enrolment): look now rather than at the next tick."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # keep trying: a locked database or a broker away is temporary
                log.exception("gallery sync failed; retrying")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def sync(self, now: str | None = None) -> list[tuple[str, int]]:
        """Bring every active device's gallery up to date; (device, version) of each one published."""
        now = now or utc_text(datetime.now(timezone.utc))
        published = []
        for device in self.storage.devices():
            if device.status != "active":
                continue
            pack, key = self.storage.device_secrets(device.id)
            if key is None:
                continue  # provisioned without gallery sync
            members = self.storage.gallery_members(device.site, device.kind, pack, now)
            version, current, published_at, _ = self.storage.latest_gallery(device.id)
            if version == 0 or sorted(members) != current:
                version = self.storage.new_gallery_version(device.id, list(members), now)
            elif published_at:
                continue
            payload = seal_gallery(device.id, version, pack, self._dim(pack, members), members, key,
                                   self.secrets.signing_key, now)
            if self.publish(cmd_topic(device.site, device.id, GALLERY), payload):
                self.storage.mark_gallery_published(device.id, version, now)
                published.append((device.id, version))
                log.info("gallery v%d for %s: %d subjects", version, device.id, len(members))
        return published

    def _dim(self, pack: str, members: dict[str, bytes]) -> int:
        sample = next(iter(members.values()), None)
        if sample is None:
            _, templates = self.storage.templates(pack)
            sample = templates[0] if templates else None
        # An empty gallery of a pack nobody is enrolled with yet: the width is only a shape.
        return len(sample) // 4 if sample else 512
