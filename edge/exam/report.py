"""An exam session reported through the device's signed events (edge/link/events.py -> outbox -> MQTT).

Session start and summary (`exam.session`), each flag as raised and as closed
(`exam.flag`), and every evidence JPEG (`exam.evidence`): encrypted with the
device's key, kept on the device's disk only in that form, its SHA-256 signed.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import cv2
import numpy as np

from edge.link.events import DeviceEvents
from edge.exam.station import ExamSupervisor, Flag
from models.faces import Face
from wire import uuid7
from wire.events import ExamCheck, ExamEvidenceEvent, ExamFlagEvent, ExamSessionEvent
from wire.evidence import seal_evidence

CONTEXT_WIDTH = 320
MAX_CHECKS = 400  # the newest checks in the summary: it must stay under the 64 KiB event limit
FACE_HEIGHT = 160


class ExamEvents:
    def __init__(self, events: DeviceEvents, gallery_key: str, evidence_dir: Path, jpeg_quality: int = 80,
                 keep_days: float = 30.0):
        self.events = events
        self.key = gallery_key
        self.dir = Path(evidence_dir)
        self.quality = jpeg_quality
        self._forget_older_than(keep_days)

    def _forget_older_than(self, days: float) -> None:
        """The device keeps its encrypted copies only so long: the gateway has them (retention there)."""
        if not self.dir.is_dir():
            return
        limit = time.time() - days * 86400
        for path in self.dir.glob("*.enc"):
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)

    def session_changed(self, s: ExamSupervisor) -> None:
        self.events.append(ExamSessionEvent, session=s.session, candidate=s.candidate, exam_type=s.exam_type,
                         stage=s.stage, seat=s.seat, started_at=s.started_at, ended_at=s.ended_at,
                         checkin=s.checkin, checkin_score=s.checkin_score, checkin_chip_score=s.checkin_chip_score,
                         reason=s.reason,
                         checks=[ExamCheck(at=c.at, reason=c.reason, score=c.score, passed=c.passed,
                                           liveness=c.liveness) for c in s.checks[-MAX_CHECKS:]],
                         checks_total=len(s.checks),
                         flags=[f.id for f in s.flags], evidence=list(s.evidence))

    def flag_changed(self, s: ExamSupervisor, flag: Flag) -> None:
        self.events.append(ExamFlagEvent, session=s.session, flag=flag.id, flag_kind=flag.kind, start=flag.start,
                         end=flag.end, confidence=flag.confidence, severity=flag.severity, detail=flag.detail,
                         evidence=flag.evidence)

    def evidence(self, s: ExamSupervisor, reason: str, image: np.ndarray, face: Face | None) -> list[str]:
        shots = [("context", cv2.resize(image, (CONTEXT_WIDTH, int(image.shape[0] * CONTEXT_WIDTH / image.shape[1]))))]
        if face is not None:
            shots.insert(0, ("face", _face_crop(image, face.box)))
        ids = []
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for what, picture in shots:
            ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                continue
            jpeg = data.tobytes()
            evidence_id = str(uuid7())
            nonce, sealed = seal_evidence(self.key, self.events.device, evidence_id, jpeg)
            path = self.dir / f"{evidence_id}.enc"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"{nonce}\n{sealed}\n")  # at rest only in its encrypted form
            self.events.append(ExamEvidenceEvent, session=s.session, evidence=evidence_id, what=what, reason=reason,
                             sha256=hashlib.sha256(jpeg).hexdigest(), nonce=nonce, ciphertext=sealed)
            ids.append(evidence_id)
        return ids


def _face_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box.astype(int)
    mx, my = (x1 - x0) // 3, (y1 - y0) // 3
    crop = image[max(0, y0 - my):min(image.shape[0], y1 + my), max(0, x0 - mx):min(image.shape[1], x1 + mx)]
    return cv2.resize(crop, (int(crop.shape[1] * FACE_HEIGHT / max(crop.shape[0], 1)), FACE_HEIGHT))
