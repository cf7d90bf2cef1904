"""A gate node, built in one place: its cameras, the face step behind each, the doors with their rules, and the
link to the gateway, wired together.

    node = build_gate(config, sources, bundle=load_bundle(path))   # or gallery=Path(...) without a gateway
    try:
        summary = node.run(print_json_line, status=StatusLine())
    finally:
        node.close()

`facegate edge run`, both demos and the benchmarks build their gate here, so a gate behaves the same whoever
starts it. What the link brings in is handed on here and nowhere else: a new gallery to every camera's
pipeline, an operator's signed "open once" to the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.gate.rules import Gate
from edge.link.event_link import EventLink
from edge.link.gallery_sync import index_of
from edge.node.feed import Feed
from edge.node.packs import GalleryError, open_gallery, open_pack
from edge.node.runner import RunSummary, StatusLine, run_node
from edge.settings import CameraSettings, EdgeConfig
from edge.vision.camera import Camera
from edge.vision.gallery import GalleryIndex
from edge.vision.liveness import LivenessChecker
from edge.vision.pipeline import FacePipeline
from edge.vision.qr import QrReader
from models import LoadedPack
from wire.bundle import DeviceBundle
from wire.gallery import Gallery

log = logging.getLogger(__name__)


@dataclass
class GateNode:
    """A gate's cameras, doors and link, ready to run."""

    config: EdgeConfig
    pack: LoadedPack
    feeds: list[Feed]
    link: EventLink | None  # None: verdicts are printed, nothing is sent
    gate: Gate | None  # None: no `[[doors]]`

    @property
    def index(self) -> GalleryIndex:
        """The gallery the cameras match against now."""
        return self.feeds[0].pipeline.policy.index

    def use_gallery(self, index: GalleryIndex, gallery: Gallery | None = None) -> None:
        """Match against `index` from the next search on, on every camera; the doors admit by `gallery`'s
        passes (the gateway's gallery)."""
        for feed in self.feeds:
            feed.pipeline.use_gallery(index)
        if self.gate and gallery is not None:
            self.gate.rules.admissions.use(gallery.admits)

    def retune(self, config: EdgeConfig) -> None:
        """Run on `config` from the next frame on, where only what the loop reads as it goes differs (the policy,
        quality, tracker, motion, the gate's rules: edge/node/managed.py)."""
        for feed in self.feeds:
            feed.pipeline.retune(config)
        if self.gate:
            self.gate.rules.settings = config.gate
        self.config = config

    def run(self, emit: Callable[[dict], None], max_frames: int | None = None, status: StatusLine | None = None,
            should_stop: Callable[[], bool] | None = None,
            heartbeat_interval_s: float | None = None) -> RunSummary:
        """Every camera until its source ends (see `run_node`), verdicts to `emit` and, with a link, the outbox."""
        interval = heartbeat_interval_s or self.config.events.heartbeat_interval_s
        return run_node(self.feeds, emit, max_frames, status, self.link.events if self.link else None, interval,
                        should_stop, self.gate)

    def close(self, flush_timeout_s: float | None = None) -> int:
        """Stop the doors and close the link (waiting up to `flush_timeout_s` for the broker); events left."""
        for feed in self.feeds:
            if feed.qr:
                feed.qr.close()
        if self.gate:
            self.gate.stop()
        if self.link is None:
            return 0
        return self.link.close(self.config.events.flush_on_exit_s if flush_timeout_s is None else flush_timeout_s)

    def log_summary(self, summary: RunSummary) -> int:
        """The run's figures per camera and in all, in the log; the exit status (3: a camera failed)."""
        for feed in self.feeds:
            stages = "  ".join(f"{k} {v:.1f}ms" for k, v in feed.pipeline.timer.per_frame_ms().items())
            log.info("%s: %d frames, %d verdicts; bad frames %d, dropped %d, detections the motion gate saved %d, "
                     "detections on the sub-stream %d, main frames not converted %d; per frame: %s", feed.id,
                     feed.pipeline.stats.frames, feed.verdicts, feed.camera.stats.bad_frames,
                     feed.camera.stats.frames_dropped, feed.pipeline.stats.static_skipped,
                     feed.pipeline.stats.sub_detected, feed.camera.stats.main_skipped, stages)
        log.info("%d frames in %.1fs (%.1f fps) from %d camera(s), %d verdicts", summary.frames, summary.seconds,
                 summary.fps, len(self.feeds), summary.verdicts)
        failed = {camera: error for camera, error in summary.cameras.items() if error}
        for camera, error in failed.items():
            log.error("camera %s: %s", camera, error)
        return 3 if failed else 0


def build_gate(config: EdgeConfig, sources: list[str] | None = None, *, gallery: Path | GalleryIndex | None = None,
               bundle: DeviceBundle | None = None, mqtt: str | None = None, realtime: bool = False,
               pack: LoadedPack | None = None, cameras: list[CameraSettings] | None = None) -> GateNode:
    """The gate node of `config`: its cameras (`[[cameras]]` or `[camera]`, `sources` in order), matching against
    the local `gallery` (a folder of photos, a gallery database, or an index made already) or, with a `bundle`,
    the gallery the gateway sends (waiting up to `events.gallery_wait_s` for a first one). With a bundle,
    verdicts, door events and heartbeats go to the gateway. `pack`: one already open; `cameras`: settings given
    whole, sources included (the benchmarks)."""
    if gallery is None and bundle is None:
        raise ValueError("give --gallery (local photos or database), or --bundle to use the gateway's gallery")
    cameras = cameras or config.camera_list(sources)
    pack = pack or open_pack(config, len(cameras))
    link = EventLink.open(bundle, config, pack.name, mqtt) if bundle else None
    try:
        index = _gallery(config, pack, gallery, link)
        log.info("gallery: %d templates of %d subjects, pack %s", len(index), index.subject_count, pack.name)
        liveness = LivenessChecker.open(config)  # like the pack's sessions, one for every camera
        gate = _doors(config, link, cameras)
        # Tickets open doors: a camera reads them only at a gate that has some (checked by its rules).
        feeds = [Feed(Camera(c.source, c, realtime=realtime), FacePipeline(pack, index, config, liveness, c),
                      qr=QrReader(c.qr_fps, c.qr_hold_s) if gate and c.qr_fps else None) for c in cameras]
    except BaseException:
        if link:
            link.close(0)
        raise
    node = GateNode(config, pack, feeds, link, gate)
    if link and gallery is None:
        link.on_gallery = node.use_gallery
        if link.gallery.current is not None:
            node.use_gallery(index_of(link.gallery.current), link.gallery.current)  # in case one arrived since
    if link and gate:
        link.on_door = gate.command
        link.on_tickets = gate.tickets
        if link.tickets:
            gate.tickets(link.tickets)  # one came before the doors were wired
    return node


def _gallery(config: EdgeConfig, pack: LoadedPack, gallery: Path | GalleryIndex | None,
             link: EventLink | None) -> GalleryIndex:
    """The local gallery, or else the one the gateway sends (waiting for a first one)."""
    if isinstance(gallery, GalleryIndex):
        return gallery
    if gallery is not None:
        if link:
            log.info("local gallery %s: gallery updates from the gateway are not applied", gallery)
        return open_gallery(Path(gallery), pack, config,
                            on_photo=lambda r: None if r.enrolled else log.warning("gallery: %s", r.line()))
    if link.gallery.current is None:
        log.info("no gallery yet: waiting up to %.0fs for the gateway's", config.events.gallery_wait_s)
    if not link.gallery.wait(config.events.gallery_wait_s):
        raise GalleryError(f"no gallery from the gateway within {config.events.gallery_wait_s:.0f}s "
                           f"(is the gateway running, and is {link.outbox.path.parent} writable?)")
    log.info("gateway gallery version %d", link.gallery.version)
    return index_of(link.gallery.current)


def _doors(config: EdgeConfig, link: EventLink | None, cameras: list[CameraSettings]) -> Gate | None:
    """The doors of `[[doors]]` with their rules (operators' commands verified with the bundle's gateway key);
    None without doors."""
    if not config.doors:
        return None
    bundle = link.gallery.bundle if link else None
    gate = Gate.open(config, link.events if link else None, bundle.device if bundle else None,
                     bundle.gateway_key if bundle else None,
                     entries_path=link.outbox.path.parent / "entries.db" if link else None)
    watched = {c.lane: c.id for c in cameras}
    for door in config.doors:
        log.info("lane %d: %s door (%s, fail mode %s), %s", door.lane, door.kind, door.direction, door.fail_mode,
                 f"camera {watched[door.lane]}" if door.lane in watched else "no camera: opened by operators only")
    return gate
