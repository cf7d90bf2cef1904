"""The device's link to the gateway: outbox, publisher and event signing, opened and closed together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from edge.bundle import DeviceBundle
from edge.config import EdgeConfig
from edge.events import DeviceEvents
from edge.outbox import Outbox
from edge.publisher import Publisher

log = logging.getLogger(__name__)


@dataclass
class EventLink:
    outbox: Outbox
    publisher: Publisher
    events: DeviceEvents

    @classmethod
    def open(cls, bundle: DeviceBundle, config: EdgeConfig, model_pack: str | None,
             mqtt_url: str | None = None) -> EventLink:
        """Open the outbox (sending what an earlier run left in it) and connect to the broker."""
        path = config.events.outbox or Path("var/edge") / bundle.device / "outbox.db"
        outbox = Outbox(path, config.events.outbox_capacity)
        broker = bundle.broker_url(mqtt_url)
        publisher = Publisher(outbox, broker, bundle.site, bundle.device, config.events.publish_window)
        events = DeviceEvents(bundle.site, bundle.device, bundle.device_key(), outbox, model_pack or bundle.model_pack,
                              on_commit=publisher.notify)
        left = outbox.depth()
        if left:
            log.info("outbox %s holds %d unsent events from an earlier run; sending them first", path, left)
        publisher.start()
        log.info("publishing as %s/%s to %s", bundle.site, bundle.device, broker)
        return cls(outbox, publisher, events)

    def close(self, flush_timeout_s: float) -> int:
        """Give the broker up to `flush_timeout_s` to take what is queued; returns how many events stay queued."""
        self.publisher.flush(flush_timeout_s)
        self.publisher.stop()
        left = self.outbox.depth()
        if left:
            log.warning("%d events stay in the outbox %s; they are sent on the next start", left, self.outbox.path)
        self.outbox.close()
        return left
