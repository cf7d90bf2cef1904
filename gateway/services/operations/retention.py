"""Housekeeping the law asks for: consents that expire, and data kept no longer than its purpose needs.

Every `interval_s` (and on `facegate retention run`):
- consents past their expiry are closed and their erasures started (provisioning/consent.py);
- events older than their data class's retention are deleted, each batch recorded in the audit chain
  (so `audit verify` knows they were purged, not lost). Age counts from `retain_from`: the capture time,
  or the gateway's receipt time for an event whose device clock was implausible (`clock_suspect`), so a
  device whose clock runs years behind cannot have its events deleted on arrival;
- expired login tokens are deleted.
Every deletion is logged.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from gateway.config import RetentionSettings
from gateway.services.people.consent import expire
from gateway.storage import Store
from gateway.storage.audit import ids_digest
from wire.events import utc_text

log = logging.getLogger(__name__)


def run_retention(store: Store, settings: RetentionSettings, now: datetime | None = None) -> dict[str, int]:
    """One pass; what it did, by data class."""
    now = now or datetime.now(timezone.utc)
    done = {"consents_expired": len(expire(store))}
    for kind, days in settings.days().items():
        before = utc_text(now - timedelta(days=days))
        total, more = 0, True
        while more:
            purged, more = _purge_events(store, kind, before)
            total += purged
        done[f"{kind}_events_deleted"] = total
        if total:
            log.info("retention: deleted %d %s events captured before %s", total, kind, before)
    before = utc_text(now - timedelta(days=settings.exam_evidence_days))
    with store.db.transaction(unaudited="nothing to delete, nothing recorded") as tx:
        ids = store.exams.purge_evidence(tx, before)
        if ids:
            tx.audit("retention", "exam.evidence.purged", None, {"before": before, "count": len(ids),
                                                                  "ids_sha256": ids_digest(ids)})
    done["exam_evidence_deleted"] = len(ids)
    with store.db.transaction(unaudited="expired login tokens: no longer valid, nothing to record") as tx:
        done["tokens_deleted"] = store.users.delete_expired_tokens(tx)
    if done["consents_expired"]:
        log.info("retention: %d expired consents closed, erasures started", done["consents_expired"])
    return done


def _purge_events(store: Store, kind: str, before: str, limit: int = 50_000) -> tuple[int, bool]:
    """Delete up to `limit` events of `kind` retained from before `before` (or one expired partition), recorded
    in the audit chain; how many, and whether there may be more."""
    with store.db.transaction(unaudited="nothing to delete, nothing recorded") as tx:
        ids, partition = store.events.purge(tx, kind, before, limit)
        if ids or partition:
            detail = {"before": before, "count": len(ids), "ids_sha256": ids_digest(ids)}
            seq = tx.audit("retention", "events.purged", kind, detail | ({"partition": partition} if partition else {}))
            store.events.record_purged(tx, ids, seq)
            store.follow_ups.purge(tx, ids)
        return len(ids), bool(ids or partition)


class Housekeeper:
    """Runs `run_retention` every `interval_s` on its own thread while `may_run()` (this replica holds the jobs
    lease); `on_change` is told when consents expired. `also`: other periodic clean-ups run after it (the kiosk's
    unanswered card reads)."""

    def __init__(self, store: Store, settings: RetentionSettings, on_change=None, may_run=lambda: True,
                 also: tuple = ()):
        self.store, self.settings, self.on_change, self.may_run = store, settings, on_change, may_run
        self.also = also
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            if not self.may_run():
                continue
            try:
                done = run_retention(self.store, self.settings)
                if done["consents_expired"] and self.on_change:
                    self.on_change()
                for job in self.also:
                    job()
            except Exception:  # a locked database is temporary: try again next time
                log.exception("housekeeping failed")
