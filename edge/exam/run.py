"""`facegate exam run`: one exam session on a camera, reported to the gateway as it happens."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from edge.vision.camera import Camera
from edge.exam.station import ExamStation, ExamSupervisor

log = logging.getLogger(__name__)


def run_exam(camera: Camera, station: ExamStation, supervisor: ExamSupervisor, live: bool) -> ExamSupervisor:
    """Supervise until the source ends (or Ctrl-C), then log out and send the summary.

    Event times are wall-clock: for a live source the time each frame is seen,
    for a file the session's start plus the file's own clock.
    """
    started = datetime.now(timezone.utc)
    seen = None
    try:
        with camera:
            for frame in camera.frames():
                at = datetime.now(timezone.utc) if live else started + timedelta(seconds=frame.timestamp)
                seen = station.see(frame, at)
                supervisor.observe(seen)
                if supervisor.checkin not in ("pending", "passed"):
                    break  # check-in failed: the session does not go on
    except KeyboardInterrupt:
        log.info("interrupted: ending the session")
    end = seen.at if seen is not None else datetime.now(timezone.utc)
    supervisor.end(seen, end)
    return supervisor
