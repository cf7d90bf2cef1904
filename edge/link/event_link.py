"""The device's link to the gateway: outbox, publisher, event signing and gallery sync, opened and closed together."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wire.bundle import DeviceBundle
from edge.settings import EdgeConfig
from edge.link.config_sync import ConfigSync, config_path
from edge.link.events import DeviceEvents
from edge.vision.gallery import GalleryIndex
from edge.link.gallery_sync import GallerySync
from edge.link.outbox import Outbox
from edge.link.publisher import Publisher
from wire.commands import CARD, CONFIG, DOOR, GALLERY, SESSION, TICKETS, UPDATE
from wire.gallery import Gallery

log = logging.getLogger(__name__)


@dataclass
class EventLink:
    outbox: Outbox
    publisher: Publisher
    events: DeviceEvents
    gallery: GallerySync
    configs: ConfigSync  # the device's settings from the gateway (edge/node/managed.py applies them)
    sessions: queue.Queue  # signed exam-session commands from the gateway (payloads)
    on_gallery: Callable[[GalleryIndex, Gallery], None] | None = None  # e.g. GateNode.use_gallery
    on_door: Callable[[bytes], None] | None = None  # edge.gate.rules.Gate.command: an operator's signed `cmd/door`
    on_card: Callable[[bytes], None] | None = None  # edge.kiosk.kiosk.Kiosk.command: a kiosk page's signed `cmd/card`
    on_tickets: Callable[[bytes], None] | None = None  # edge.gate.rules.Gate.tickets: the site's ticket list
    tickets: bytes | None = None  # the newest ticket list that came
    on_update: Callable[[bytes], None] | None = None  # edge/updates/packs.py PackUpdates.handle: a `cmd/update`
    update: bytes | None = None  # the newest update command that came (retained: maybe before anything took it)

    @classmethod
    def open(cls, bundle: DeviceBundle, config: EdgeConfig, model_pack: str | None,
             mqtt_url: str | None = None) -> EventLink:
        """Open the outbox (sending what an earlier run left in it) and connect to the broker."""
        folder = Path("var/edge") / bundle.device
        outbox = Outbox(config.events.outbox or folder / "outbox.db", config.events.outbox_capacity)
        gallery = GallerySync(bundle, config.events.gallery or folder / "gallery.enc")
        gallery.load()
        configs = ConfigSync(bundle, config_path(bundle, config.events.outbox))
        configs.load()
        broker = bundle.broker_url(mqtt_url)
        sessions: queue.Queue[bytes] = queue.Queue()
        link: EventLink | None = None

        def on_command(what: str, payload: bytes) -> None:
            if what == GALLERY:
                gallery.handle(payload)
            elif what == SESSION and payload:  # an empty retained payload: the gateway cleared it
                sessions.put(payload)
            elif what == DOOR:
                if link and link.on_door:
                    link.on_door(payload)
                else:
                    log.error("door command ignored: this device runs no doors")
            elif what == TICKETS and link:
                link.tickets = payload  # retained: it may come before the doors are wired to take it
                if link.on_tickets:
                    link.on_tickets(payload)
            elif what == CONFIG:
                configs.handle(payload)
            elif what == UPDATE and link:
                link.update = payload
                if link.on_update:
                    link.on_update(payload)
                else:  # the node is being built (ManagedGate takes it then), or it runs without taking updates
                    log.info("update command kept for the node to take")
            elif what == CARD:
                if link and link.on_card:
                    link.on_card(payload)
                else:
                    log.error("card command ignored: this device is not a kiosk")

        publisher = Publisher(outbox, broker, bundle.site, bundle.device, config.events.publish_window,
                              resend_after_s=config.events.resend_after_s, on_command=on_command,
                              tls=bundle.tls())
        events = DeviceEvents(bundle.site, bundle.device, bundle.device_key(), outbox, model_pack or bundle.model_pack,
                              on_commit=publisher.notify, evidence_key=bundle.gallery_key)
        configs.events = events
        events.config_version = configs.running  # said in every heartbeat
        link = cls(outbox, publisher, events, gallery, configs, sessions)
        gallery.on_change = link._gallery_changed
        if gallery.current:  # tell the gateway what this device runs after a restart
            events.gallery_applied(gallery.current.version, len(gallery.current.subjects))
        left = outbox.depth()
        if left:
            log.info("outbox %s holds %d unsent events from an earlier run; sending them first", outbox.path, left)
        publisher.start()
        log.info("publishing as %s/%s to %s", bundle.site, bundle.device, broker)
        return link

    def _gallery_changed(self, index: GalleryIndex, gallery: Gallery) -> None:
        if self.on_gallery:
            self.on_gallery(index, gallery)
        self.events.gallery_applied(gallery.version, len(gallery.subjects))

    def close(self, flush_timeout_s: float) -> int:
        """Give the broker up to `flush_timeout_s` to take what is queued; returns how many events stay queued."""
        self.publisher.flush(flush_timeout_s)
        self.publisher.stop()
        left = self.outbox.depth()
        if left:
            log.warning("%d events stay in the outbox %s; they are sent on the next start", left, self.outbox.path)
        self.outbox.close()
        return left
