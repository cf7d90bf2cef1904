"""Verdicts and health become signed events in the outbox.

The event stage of the edge: takes a policy `Verdict` (or the loop's health
figures), gives it an id and the device's next sequence number, signs it with
the device key and commits it to the outbox. The publisher takes it from there.
A verdict's face crop (unknown, spoof) goes as an event of its own, encrypted
with the device's key, so the gateway keeps it a short while and the verdict
as long as verdicts are kept.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from edge.link.outbox import Outbox, OutboxFull
from edge.vision.policy import Verdict
from wire import DeviceKey, EventBase, GateVerdictEvent, HeartbeatEvent, event_topic, sign_event, uuid7
from wire.events import GalleryAppliedEvent, GateCropEvent
from wire.evidence import seal_evidence

log = logging.getLogger(__name__)


def _release() -> str:
    try:
        return importlib.metadata.version("facegate")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


RELEASE = _release()  # the FaceGate release this device runs, in every heartbeat


class DeviceEvents:
    def __init__(self, site: str, device: str, key: DeviceKey, outbox: Outbox, model_pack: str,
                 on_commit: Callable[[], None] | None = None, evidence_key: str | None = None):
        self.site = site
        self.evidence_key = evidence_key  # the bundle's gallery key: face crops are sealed with it (None: none sent)
        self.device = device
        self.key = key
        self.outbox = outbox
        self.model_pack = model_pack
        self.on_commit = on_commit  # wakes the publisher
        self.config_version = 0  # the configuration version running (edge/link/config_sync.py keeps it up to date)
        self.pack_version = 0  # the model pack's version running (0: the one the device came with; edge/updates)

    def verdict(self, verdict: Verdict, camera: str, captured_at: datetime | None = None, lane: int | None = None,
                direction: str | None = None) -> int | None:
        """Commit a verdict event; its sequence number, or None if a full outbox refused it."""
        fields = dict(
            camera=camera, track=verdict.track, verdict=verdict.verdict, subject=verdict.subject,
            score=round(verdict.score, 4),
            runner_up=None if verdict.runner_up is None else round(verdict.runner_up, 4),
            threshold=verdict.threshold, margin=verdict.margin, quality=round(verdict.quality, 3),
            frames=verdict.frames, liveness_enabled=verdict.liveness_enabled, liveness=verdict.liveness,
            lane=lane, direction=direction,
            time_to_decision_ms=None if verdict.time_to_decision_s is None
            else round(1000 * verdict.time_to_decision_s, 1), pass_id=verdict.pass_id, method=verdict.method,
        )
        crop = verdict.crop if self.evidence_key else None
        if crop:
            fields["crop_sha256"] = hashlib.sha256(crop).hexdigest()
        event_id = str(uuid7())
        at = captured_at or datetime.now(timezone.utc)
        try:
            seq = self._append(GateVerdictEvent, at, fields, event_id)
        except OutboxFull as exc:
            log.error("verdict NOT queued (%s %s at %s): %s", verdict.verdict, verdict.subject or "-", camera, exc)
            return None
        if crop:  # the same capture time: the gateway finds a verdict's crop by its device and time
            nonce, sealed = seal_evidence(self.evidence_key, self.device, event_id, crop)
            try:
                self._append(GateCropEvent, at, {"verdict": event_id, "sha256": fields["crop_sha256"], "nonce": nonce,
                                                 "ciphertext": sealed})
            except OutboxFull as exc:  # the verdict is queued; its picture is the part to do without
                log.error("face crop of verdict %s NOT queued: %s", event_id, exc)
        return seq

    def gallery_applied(self, version: int, size: int) -> int:
        """Commit the event confirming the gallery version now in use (erasures complete on it)."""
        return self._append(GalleryAppliedEvent, None, {"version": version, "size": size})

    def append(self, cls: type[EventBase], **fields) -> int:
        """Commit an event of `cls` (exam, door, tailgate); 0 if a full outbox refused it (logged)."""
        try:
            return self._append(cls, None, fields)
        except OutboxFull as exc:
            log.error("%s event NOT queued: %s", cls.model_fields["kind"].default, exc)
            return 0

    def heartbeat(self, **fields) -> int:
        """Commit a heartbeat (fields as in `wire.HeartbeatEvent`), saying which release, configuration version and
        pack version run here; 0 if a full outbox dropped it."""
        fields.setdefault("outbox_depth", self.outbox.depth())
        fields.setdefault("outbox_refused", self.outbox.refused)
        fields.setdefault("software", RELEASE)
        fields.setdefault("config_version", self.config_version)
        fields.setdefault("pack_version", self.pack_version)
        return self._append(HeartbeatEvent, None, fields)

    def _append(self, cls: type[EventBase], captured_at: datetime | None, fields: dict,
                event_id: str | None = None) -> int:
        at = captured_at or datetime.now(timezone.utc)
        kind = cls.model_fields["kind"].default

        def build(seq: int) -> tuple[str, str, bytes]:
            event = cls(id=event_id or str(uuid7()), site=self.site, device=self.device, seq=seq, captured_at=at,
                        model_pack=self.model_pack, **fields)
            return event.id, event_topic(self.site, self.device, kind), sign_event(event, self.key)

        seq = self.outbox.append(kind, build)
        if self.on_commit:
            self.on_commit()
        return seq
