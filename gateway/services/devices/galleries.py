"""Keeps every device's gallery equal to what its people consented to.

A device's gallery is exactly the subjects whose live consent covers the
device's site and purpose (a gate device: purpose `gate`; an exam device:
`exam`), with templates from the device's model pack; a gate's carries their
passes at its site too (services/visitors/passes.py). Whenever that set or
those passes change, the device gets a new version: sealed for it (wire/gallery.py),
published retained on its `cmd/gallery` and marked published once the broker
has it. The device confirms with a `gallery` event (`gallery_applied`, called by
ingest in the transaction storing that event): the erasures waiting on that
version are confirmed for the device -- one audit entry each -- and an erasure
every device has confirmed is complete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.services.devices.configs import ConfigPusher
from gateway.services.updates.rollouts import UpdatePusher
from gateway.services.events.local_time import DEFAULT_TIME_ZONE
from gateway.services.security.secrets import GatewaySecrets
from gateway.services.visitors.qr import TicketLists
from gateway.services.visitors.passes import admits_at, admits_digest
from gateway.storage import Device, Erasure, GalleryVersion, Store, Tx
from wire.commands import GALLERY
from wire.events import utc_text
from wire.gallery import Admit, seal_gallery
from wire.topics import cmd_topic

log = logging.getLogger(__name__)

# (topic, payload) -> True once the broker has acknowledged it
Publish = Callable[[str, bytes], bool]


def gallery_applied(store: Store, tx: Tx, device: str, version: int, at: str) -> list[int]:
    """The device runs `version` now: confirm it (and older ones) and its erasures; the erasures completed."""
    store.galleries.mark_applied(tx, device, version, at)
    confirmed = store.galleries.confirm_device(tx, device, version, at)
    done = []
    for erasure in store.galleries.erasures(tx=tx, ids=confirmed):
        tx.audit(f"device:{device}", "erasure.device_confirmed", erasure.subject,
                 {"erasure": erasure.id, "version": version})
        if _complete_if_done(store, tx, erasure):
            done.append(erasure.id)
    return done


def device_revoked(store: Store, tx: Tx, device: str, actor: str) -> list[int]:
    """A revoked device can no longer receive a gallery: its erasures stop waiting for it (each audited, with the
    device named, in the revocation's transaction); the erasures this completes."""
    released = store.galleries.release_device(tx, device)
    done = []
    for erasure in store.galleries.erasures(tx=tx, ids=released):
        tx.audit(actor, "erasure.device_revoked", erasure.subject, {"erasure": erasure.id, "device": device})
        if _complete_if_done(store, tx, erasure):
            done.append(erasure.id)
    return done


def _complete_if_done(store: Store, tx: Tx, erasure: Erasure) -> bool:
    """Mark the erasure complete (audited) once every device still waited for has confirmed it."""
    if erasure.completed_at is not None or not all(d["confirmed_at"] for d in erasure.devices.values()):
        return False
    store.galleries.complete(tx, erasure.id)
    tx.audit("system", "erasure.completed", erasure.subject,
             {"erasure": erasure.id, "devices": sorted(erasure.devices)})
    return True


class GalleryPusher:
    """Publishes each device's gallery when its members change, and each gate's ticket list when its site's
    tickets change (services/visitors/qr.py), every `interval_s` or when poked, while `may_run()` (this replica
    holds the jobs lease)."""

    def __init__(self, store: Store, secrets: GatewaySecrets, publish: Publish, interval_s: float = 1.0,
                 may_run=lambda: True, time_zone: str = DEFAULT_TIME_ZONE, download_url: str = ""):
        self.store = store
        self.may_run = may_run
        self.secrets = secrets
        self.publish = publish
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gallery-pusher", daemon=True)
        self._passes: dict[str, tuple[str | None, dict[str, list[Admit]]]] = {}  # site -> (changed at, passes)
        self.ticket_lists = TicketLists(store, secrets, publish, time_zone)
        self.configs = ConfigPusher(store, publish)  # device configurations the broker did not take when made
        self.updates = UpdatePusher(store, secrets, publish, download_url)  # update commands, rollouts' stages

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
                if self.may_run():
                    self.sync()
                    self.ticket_lists.sync()
                    self.configs.sync()
                    self.updates.sync()
            except Exception:  # keep trying: a locked database or a broker away is temporary
                log.exception("gallery sync failed; retrying")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def sync(self, now: str | None = None) -> list[tuple[str, int]]:
        """Bring every active device's gallery up to date; (device, version) of each one published."""
        now = now or utc_text(datetime.now(timezone.utc))
        published = []
        # One pass costs a few queries per (site, kind, pack), not per device: a fleet has hundreds of devices
        # on a few sites, and this runs every second. Templates are read only for a gallery to be published.
        covered: dict[tuple[str, str], list[str]] = {}
        member_ids: dict[tuple[str, str, str], list[str]] = {}
        templates: dict[tuple[str, tuple[str, ...]], dict[str, bytes]] = {}
        newest = self.store.galleries.newest_of_every_device()
        for device in self.store.devices.all():
            if not device.active or device.gallery_key is None:  # revoked, or provisioned without gallery sync
                continue
            pack = device.model_pack
            group = (device.site, device.kind, pack)
            if group not in member_ids:
                if group[:2] not in covered:
                    covered[group[:2]] = self.store.people.member_ids(device.site, device.kind, now)
                member_ids[group] = self.store.people.with_template(pack, covered[group[:2]])
            latest = newest.get(device.id) or GalleryVersion(device.id, 0, [])
            admits = self._admits(device, member_ids[group])
            if latest.version == 0 or member_ids[group] != latest.members or admits_digest(admits) != latest.admits:
                latest = self._new_version(device, now)
                admits = self._admits(device, latest.members)
            if latest.published_at:
                continue
            key = (pack, tuple(latest.members))
            if key not in templates:
                templates[key] = self.store.people.templates_of(pack, latest.members)
            members = templates[key]
            payload = seal_gallery(device.id, latest.version, pack, self._dim(pack, members), members,
                                   device.gallery_key, self.secrets.signing_key, now, admits)
            if self.publish(cmd_topic(device.site, device.id, GALLERY), payload):
                with self.store.db.transaction(unaudited="the broker took a gallery already recorded") as tx:
                    self.store.galleries.mark_published(tx, device.id, latest.version)
                published.append((device.id, latest.version))
                log.info("gallery v%d for %s: %d subjects", latest.version, device.id, len(members))
        return published

    def _new_version(self, device: Device, now: str) -> GalleryVersion:
        """Record the device's next gallery, if its members changed; erasures of subjects it leaves out wait for
        this version. The device's newest gallery either way.

        The members are read again here, holding the write lock: a consent withdrawn after the pass read them
        has committed its erasure by now, and that erasure found the device's galleries as they were. A
        version made from the pass's older read could hand the device someone whose erasure never waits
        for it."""
        with self.store.db.transaction(unaudited="the device's gallery was already up to date") as tx:
            members = self.store.people.with_template(device.model_pack,
                                                      self.store.people.member_ids(device.site, device.kind, now))
            digest = admits_digest(self._admits(device, members))
            newest = self.store.galleries.latest(device.id)
            if newest.version and newest.members == members and newest.admits == digest:
                return newest
            version = self.store.galleries.add_version(tx, device.id, members, digest)
            waiting = [e.id for e in self.store.galleries.erasures(outstanding_only=True, tx=tx)
                       if device.id in e.devices and e.devices[device.id]["version"] is None
                       and e.subject not in members]
            self.store.galleries.assign_version(tx, device.id, version, waiting)
            tx.audit("system", "gallery.version", device.id, {"version": version, "size": len(members),
                                                             "erasures": waiting})
        return GalleryVersion(device.id, version, members, admits=digest)

    def _admits(self, device: Device, members: list[str]) -> dict[str, list[Admit]]:
        """The passes at the device's site of those of `members` who hold any (a gate's gallery only). Read again
        only when a pass there has changed: one indexed query a pass otherwise."""
        if device.kind != "gate":
            return {}
        changed = self.store.passes.changed_at(device.site)
        cached = self._passes.get(device.site)
        if cached is None or cached[0] != changed:
            cached = self._passes[device.site] = (changed, admits_at(self.store, device.site))
        chosen = set(members)
        return {s: passes for s, passes in cached[1].items() if s in chosen}

    def _dim(self, pack: str, members: dict[str, bytes]) -> int:
        sample = next(iter(members.values()), None)
        if sample is None:
            _, templates = self.store.people.templates(pack)
            sample = templates[0] if templates else None
        # An empty gallery of a pack nobody is enrolled with yet: the width is only a shape.
        return len(sample) // 4 if sample else 512
