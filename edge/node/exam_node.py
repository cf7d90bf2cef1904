"""An exam device, built in one place: the face step for a desk, the link to the gateway, the session reporter,
and the chip card reader for check-in.

    device = build_exam(config, load_bundle(path))
    try:
        result = device.run_session(source)   # the next session the gateway sends, or one given
    finally:
        device.close()

`facegate exam run` and the demo build their exam device here.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edge.exam.report import ExamEvents
from edge.exam.run import run_exam
from edge.exam.station import ExamStation, ExamSupervisor
from edge.link.event_link import EventLink
from edge.link.gallery_sync import index_of
from edge.node.packs import GalleryError, open_pack
from edge.settings import EdgeConfig
from edge.vision.camera import Camera
from edge.vision.liveness import LivenessChecker
from emrtd.link.apdu import CardError
from models import LoadedPack
from wire import uuid7
from wire.bundle import DeviceBundle
from wire.commands import SessionCommand, open_session_command
from wire.events import ExamSessionEvent

log = logging.getLogger(__name__)


@dataclass
class Session:
    """What to supervise: given on the command line, or sent by the gateway."""

    candidate: str
    id: str = ""
    exam_type: str = "theory"
    stage: str = "theory"
    seat: str | None = None


@dataclass
class ExamDevice:
    config: EdgeConfig
    bundle: DeviceBundle
    pack: LoadedPack
    link: EventLink
    station: ExamStation
    reporter: ExamEvents

    @property
    def done_file(self) -> Path:
        """The sessions this device has run, one id a line: a retained session command is not run twice."""
        return self.reporter.dir.parent / "sessions-done.txt"

    def next_session(self, wait_s: float) -> Session | None:
        """The next signed session command for this device that has not run yet (None after `wait_s`)."""
        done = set(self.done_file.read_text().split()) if self.done_file.exists() else set()
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                payload = self.link.sessions.get(timeout=left)
            except queue.Empty:
                return None
            try:
                command: SessionCommand = open_session_command(payload, self.bundle.device, self.bundle.gateway_key)
            except (ValueError, KeyError) as exc:
                log.error("session command refused: %s", exc)
                continue
            if command.session not in done:
                log.info("session %s from the gateway (by %s): candidate %s", command.session, command.created_by,
                         command.candidate)
                return Session(command.candidate, command.session, command.exam_type, command.stage, command.seat)
        return None

    def supervisor(self, session: Session, card: str | None = None) -> ExamSupervisor:
        """The session's supervisor; ValueError or CardError when it cannot start (no template, a bad card).
        `card`: "DOC,BIRTH,EXPIRY" of the candidate's chip card, whose portrait check-in matches as well."""
        chip = self._chip_card(card) if card else None
        return self.station.supervisor(session.id, session.candidate, index_of(self.link.gallery.current),
                                       self.reporter, exam_type=session.exam_type, stage=session.stage,
                                       seat=session.seat, chip=chip)

    def run_session(self, source: str, session: Session | None = None, card: str | None = None,
                    wait_s: float = 600.0, realtime: bool = False) -> ExamSupervisor | None:
        """Check the candidate in and supervise until the source ends; None when no session came within `wait_s`.

        A session that cannot start is reported to the gateway as a refused check-in, and ValueError or
        CardError raised."""
        if not self.link.gallery.wait(self.config.events.gallery_wait_s):
            raise GalleryError(f"no gallery from the gateway within {self.config.events.gallery_wait_s:.0f}s")
        if session is None:
            session = self.next_session(wait_s)
            if session is None:
                return None
        session.id = session.id or str(uuid7())
        self._wait_for_candidate(session.candidate)
        try:
            supervisor = self.supervisor(session, card)
        except (ValueError, CardError) as exc:
            now = datetime.now(timezone.utc)
            self.link.events.append(ExamSessionEvent, session=session.id, candidate=session.candidate,
                                    exam_type=session.exam_type, stage=session.stage, seat=session.seat,
                                    started_at=now, ended_at=now, checkin="refused", reason=str(exc))
            raise
        camera = Camera(source, self.config.camera, realtime=realtime)
        result = run_exam(camera, self.station, supervisor, live=camera.live)
        with self.done_file.open("a") as f:
            f.write(session.id + "\n")
        return result

    def _wait_for_candidate(self, candidate: str) -> None:
        """A candidate enrolled a moment ago may not be in this device's gallery yet: wait a bounded time for the
        gateway's gallery that holds them (the session is refused after, saying why)."""
        gallery, wait_s = self.link.gallery, self.config.exam.gallery_wait_s
        if gallery.wait_for_subject(candidate, 0):
            return
        log.info("candidate %s is not in this device's gallery (version %d) yet: waiting up to %.0fs for the "
                 "gateway's", candidate, gallery.version, wait_s)
        if gallery.wait_for_subject(candidate, wait_s):
            log.info("gallery version %d holds candidate %s", gallery.version, candidate)

    def close(self, flush_timeout_s: float | None = None) -> int:
        """Keep a configuration that came during the session for the next start; close the link, waiting up to
        `flush_timeout_s` for the broker; the events left in the outbox."""
        self.link.configs.keep_for_next_start()
        return self.link.close(self.config.events.flush_on_exit_s if flush_timeout_s is None else flush_timeout_s)

    def _chip_card(self, card: str) -> np.ndarray:
        """The template of the portrait on the chip ID card the candidate presents (on the `[kiosk]` reader)."""
        from edge.kiosk.card import chip_template, read_chip_card
        from emrtd.link.pcsc import PcscTransport

        read = read_chip_card(PcscTransport(self.config.kiosk.reader), card)
        template = chip_template(read, self.pack, self.config.quality)
        if isinstance(template, str):
            raise ValueError(f"the card's portrait cannot be used: {template}")
        log.info("chip card of %r read (%s); check-in matches its portrait too", read.name, read.outcome)
        return template.embedding


def build_exam(config: EdgeConfig, bundle: DeviceBundle, mqtt: str | None = None,
               pack: LoadedPack | None = None) -> ExamDevice:
    """The exam device of `bundle` (an exam device's), linked to the gateway, on `config` (the gateway's last
    version it kept, else its local file: edge/link/config_sync.py `starting_config`); ValueError for another
    kind."""
    if bundle.kind != "exam":
        raise ValueError(f"device {bundle.device} is a {bundle.kind} device; exam sessions need an exam device")
    pack = pack or open_pack(config)
    liveness = LivenessChecker.open(config)
    link = EventLink.open(bundle, config, pack.name, mqtt)
    link.configs.started()  # the gateway learns which configuration version this session runs on
    reporter = ExamEvents(link.events, bundle.gallery_key, link.outbox.path.parent / "evidence",
                          config.exam.evidence_quality, config.exam.evidence_keep_days)
    return ExamDevice(config, bundle, pack, link, ExamStation(pack, config.quality, config.exam, liveness), reporter)
