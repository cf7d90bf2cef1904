"""Housekeeping the law asks for: consents that expire, and data kept no longer than its purpose needs.

Every `interval_s` (and on `facegate retention run`):
- consents past their expiry are closed and their erasures started (provisioning/consent.py);
- events older than their data class's retention are deleted, each batch recorded in the audit chain
  (so `audit verify` knows they were purged, not lost);
- expired login tokens are deleted.
Every deletion is logged.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, Field

from gateway.storage import Storage
from provisioning.consent import expire
from wire.events import utc_text

log = logging.getLogger(__name__)


class RetentionSettings(BaseModel):
    """Days each data class is kept. QCVN 105 asks 5 years for exam session data."""

    verdict_days: int = Field(365, ge=1)
    heartbeat_days: int = Field(30, ge=1)
    gallery_days: int = Field(365 * 5, ge=1)  # gallery confirmations: proof that erasures reached devices
    exam_session_days: int = Field(365 * 5, ge=1)  # exam session records and flags (QCVN 105: 5 years)
    exam_evidence_days: int = Field(365 * 5, ge=1)  # evidence photos; a site may keep them shorter
    interval_s: float = Field(60.0, gt=0)

    def days(self) -> dict[str, int]:
        return {"verdict": self.verdict_days, "heartbeat": self.heartbeat_days, "gallery": self.gallery_days,
                "exam.session": self.exam_session_days, "exam.flag": self.exam_session_days,
                "exam.evidence": self.exam_evidence_days}


def run_retention(storage: Storage, settings: RetentionSettings, now: datetime | None = None) -> dict[str, int]:
    """One pass; what it did, by data class."""
    now = now or datetime.now(timezone.utc)
    stamp = utc_text(now)
    done = {"consents_expired": len(expire(storage, stamp))}
    for kind, days in settings.days().items():
        before = utc_text(now - timedelta(days=days))
        total = 0
        while purged := storage.purge_events(kind, before, stamp, "retention"):
            total += purged
        done[f"{kind}_events_deleted"] = total
        if total:
            log.info("retention: deleted %d %s events captured before %s", total, kind, before)
    done["exam_evidence_deleted"] = storage.purge_exam_evidence(
        utc_text(now - timedelta(days=settings.exam_evidence_days)), stamp)
    done["tokens_deleted"] = storage.delete_expired_tokens(stamp)
    if done["consents_expired"]:
        log.info("retention: %d expired consents closed, erasures started", done["consents_expired"])
    return done


class Housekeeper:
    """Runs `run_retention` every `interval_s` on its own thread; `on_change` is told when consents expired."""

    def __init__(self, storage: Storage, settings: RetentionSettings, on_change=None):
        self.storage, self.settings, self.on_change = storage, settings, on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            try:
                done = run_retention(self.storage, self.settings)
                if done["consents_expired"] and self.on_change:
                    self.on_change()
            except Exception:  # a locked database is temporary: try again next time
                log.exception("housekeeping failed")
