"""A kiosk, built in one place: the chip reader, the camera, liveness and the link to the gateway, whose signed
card-read commands it serves.

    device = build_kiosk(config, load_bundle(path), source)
    device.serve(stop)        # until `stop` is set; a heartbeat every `events.heartbeat_interval_s`

`facegate kiosk run` builds its kiosk here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.kiosk.kiosk import Kiosk
from edge.link.event_link import EventLink
from edge.node.packs import open_pack
from edge.settings import EdgeConfig
from edge.vision.camera import Camera
from edge.vision.liveness import LivenessChecker
from emrtd.link.apdu import Transport
from models import LoadedPack
from wire.bundle import DeviceBundle
from wire.redact import redact

log = logging.getLogger(__name__)


@dataclass
class KioskDevice:
    config: EdgeConfig
    link: EventLink
    kiosk: Kiosk

    def serve(self, stop: threading.Event) -> None:
        """Serve the gateway's card reads until `stop`, with a heartbeat every `events.heartbeat_interval_s`;
        then the kiosk stops and the link closes."""
        started = time.monotonic()
        try:
            while True:
                self.link.events.heartbeat(fps=0.0, stage_ms={}, frames=0, frames_dropped=0, gallery_version=None,
                                           gallery_size=0, liveness_enabled=self.kiosk.liveness is not None,
                                           uptime_s=round(time.monotonic() - started, 1))
                if stop.wait(self.config.events.heartbeat_interval_s):
                    break
        finally:
            self.kiosk.stop()
            self.link.close(self.config.events.flush_on_exit_s)


def build_kiosk(config: EdgeConfig, bundle: DeviceBundle, source: str | None, mqtt: str | None = None,
                pack: LoadedPack | None = None, reader: Callable[[], Transport] | None = None,
                camera: Callable[[], Camera] | None = None) -> KioskDevice:
    """The kiosk of `bundle` (a kiosk device's), its camera `source` and its card on PC/SC reader `kiosk.reader`;
    ValueError for another kind. `reader` and `camera` stand in for the hardware where it is given otherwise
    (the tests' software card and videos)."""
    if bundle.kind != "kiosk":
        raise ValueError(f"device {bundle.device} is a {bundle.kind} device; `facegate kiosk run` needs a kiosk")
    if reader is None:
        from emrtd.link.pcsc import PcscTransport  # pyscard: an optional extra, needed only with a real reader

        def reader() -> Transport:
            return PcscTransport(config.kiosk.reader)
    pack = pack or open_pack(config)
    liveness = LivenessChecker.open(config)
    link = EventLink.open(bundle, config, pack.name, mqtt)
    kiosk = Kiosk(config, pack, liveness, link.events, bundle.device, bundle.gallery_key, bundle.gateway_key,
                  reader=reader, camera=camera or (lambda: Camera(source, config.camera)))
    link.on_card = kiosk.command
    log.info("kiosk %s ready: reader %d, camera %s", bundle.device, config.kiosk.reader, redact(str(source)))
    return KioskDevice(config, link, kiosk)
