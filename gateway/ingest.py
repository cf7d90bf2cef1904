"""The ingest worker: MQTT in, checked events into storage, nothing lost.

It holds a persistent MQTT session (clean_session=False, QoS 1) and
acknowledges each message only after the batch holding it is committed, so
a gateway killed mid-batch gets those messages again from the broker on its
return; event-id de-duplication makes the redelivery harmless. After each
commit it tells every device which of its sequence numbers are safely stored
(`cmd/ack`), and only then does the device forget them.

Every message is admitted or dropped with one reason (counted in `/api/metrics`,
logged at most once per device and reason a minute):

    too_large, malformed, schema_version, invalid, bad_topic, unknown_device,
    revoked_device, missing_signature, bad_signature, topic_mismatch,
    duplicate, replay
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import ValidationError

from gateway.storage import Device, Storage, StoredEvent
from wire import SignatureError, TopicError, canonical_json, parse_event, parse_topic, public_key_from_text, verify_envelope
from wire.events import MAX_PAYLOAD_BYTES, SCHEMA_VERSION, utc_text
from wire.mqtt import BrokerUrl, new_client
from wire.commands import ACK, SESSION, DeliveryAck
from wire.topics import ALL_EVENTS, ALL_STATUS, cmd_topic

log = logging.getLogger(__name__)

GATEWAY_CLIENT_ID = "facegate-gateway"


class Rejected(Exception):
    def __init__(self, reason: str, device: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.device = device


@dataclass
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int


class IngestMetrics:
    """Counters since the gateway started (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.stored = 0
        self.rejected: Counter[str] = Counter()
        self.batches = 0
        self.last_commit_ms = 0.0
        self.started = time.time()

    def add(self, received: int, stored: int, rejected: Counter[str], commit_ms: float) -> None:
        with self._lock:
            self.received += received
            self.stored += stored
            self.rejected.update(rejected)
            self.batches += 1
            self.last_commit_ms = commit_ms

    def snapshot(self) -> dict:
        with self._lock:
            return {"received": self.received, "stored": self.stored, "rejected": dict(self.rejected),
                    "rejected_total": sum(self.rejected.values()), "batches": self.batches,
                    "last_commit_ms": round(self.last_commit_ms, 2), "uptime_s": round(time.time() - self.started, 1)}


class _OncePerMinute:
    """Logs a rejection at most once per (device, reason) per minute: a broken device must not flood the log."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def warn(self, device: str | None, reason: str, topic: str) -> None:
        key, now = (device or topic, reason), time.monotonic()
        if now - self._last.get(key, -1e9) >= 60:
            self._last[key] = now
            log.warning("dropped event from %s: %s (topic %s; further ones this minute are only counted)",
                        device or "?", reason, topic)


class DeviceDirectory:
    """Device keys and status, cached; re-read at most every `refresh_s` (so a revocation bites within it)."""

    def __init__(self, storage: Storage, refresh_s: float = 2.0):
        self.storage = storage
        self.refresh_s = refresh_s
        self._devices: dict[str, Device] = {}
        self._keys: dict[str, object] = {}
        self._loaded_at = -1e9

    def get(self, device: str) -> Device | None:
        age = time.monotonic() - self._loaded_at
        # A device just provisioned is looked up again, but at most once a second (unknown senders are cheap to ignore).
        if age > self.refresh_s or (device not in self._devices and age > 1.0):
            self._devices = {d.id: d for d in self.storage.devices()}
            self._keys = {}
            self._loaded_at = time.monotonic()
        return self._devices.get(device)

    def key(self, device: Device):
        if device.id not in self._keys:
            self._keys[device.id] = public_key_from_text(device.public_key)
        return self._keys[device.id]


def admit(topic: str, payload: bytes, directory: DeviceDirectory, received_at: str) -> StoredEvent:
    """Check one MQTT message against the wire contract; the event to store, or Rejected(reason)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected("too_large")
    try:
        where = parse_topic(topic)
    except TopicError:
        raise Rejected("bad_topic") from None
    try:
        envelope = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("malformed", where.device) from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), dict):
        raise Rejected("malformed", where.device)
    body = envelope["body"]
    if body.get("v") != SCHEMA_VERSION:
        raise Rejected("schema_version", where.device)
    try:
        event = parse_event(body)
    except ValidationError:
        raise Rejected("invalid", where.device) from None
    device = directory.get(event.device)
    if device is None:
        raise Rejected("unknown_device", event.device)
    if device.status != "active":
        raise Rejected("revoked_device", event.device)
    try:
        verify_envelope(body, envelope.get("sig"), directory.key(device))
    except SignatureError as exc:
        raise Rejected("missing_signature" if "missing" in str(exc) else "bad_signature", event.device) from None
    # Signed by device X but sent to device Y's topic (or naming another site): someone is relaying.
    if (where.device, where.site, where.name) != (event.device, device.site, event.kind) or event.site != device.site:
        raise Rejected("topic_mismatch", event.device)
    return StoredEvent(
        id=event.id, site=event.site, device=event.device, kind=event.kind, seq=event.seq,
        captured_at=utc_text(event.captured_at), received_at=received_at,
        verdict=getattr(event, "verdict", None), subject=getattr(event, "subject", None),
        score=getattr(event, "score", None), body=canonical_json(body).decode("utf-8"), sig=envelope["sig"],
    )


class Ingest:
    """Subscribes to every device's events and status; stores events in batches."""

    def __init__(self, storage: Storage, broker: BrokerUrl, *, client_id: str = GATEWAY_CLIENT_ID,
                 batch_max: int = 1000, on_stored: Callable[[list[StoredEvent]], None] | None = None,
                 clock_skew_limit_s: float = 120.0):
        self.storage = storage
        self.broker = broker
        self.batch_max = batch_max
        self.on_stored = on_stored
        self.clock_skew_limit_s = clock_skew_limit_s  # exam events further off than this: a technical flag
        self.metrics = IngestMetrics()
        self.directory = DeviceDirectory(storage)
        self._warn = _OncePerMinute()
        self._queue: queue.Queue[_Message | None] = queue.Queue()
        # manual_ack: the broker's copy is released only after our commit.
        self._client = new_client(client_id, broker, clean_session=False, manual_ack=True, max_inflight=batch_max)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.connected = threading.Event()
        self._stopping = False

    def start(self) -> None:
        self._writer.start()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        self._writer.join(timeout=10)

    def publish(self, topic: str, payload: bytes, retain: bool = False, timeout_s: float = 10.0) -> bool:
        """Publish QoS 1 on the gateway's connection; True once the broker has acknowledged it."""
        if not self.connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the gateway: %s", self.broker, reason_code)
            return
        # Subscribe every time: after a broker restart without persistence the session is new.
        client.subscribe([(ALL_EVENTS, 1), (ALL_STATUS, 1)])
        log.info("ingest connected to %s (session %s)", self.broker,
                 "resumed" if flags.session_present else "new")
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("ingest lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self._queue.put(_Message(message.topic, message.payload, message.mid, message.qos))

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._process_safely(batch)
                    return
                batch.append(item)
            self._process_safely(batch)

    def _process_safely(self, batch: list[_Message]) -> None:
        try:
            self._process(batch)
        except Exception:  # a bug must not silence ingest; unacknowledged, the batch comes again after a reconnect
            log.exception("a batch of %d messages could not be processed", len(batch))

    def _process(self, batch: list[_Message]) -> None:
        started = time.perf_counter()
        received_at = utc_text(datetime.now(timezone.utc))
        rejected: Counter[str] = Counter()
        candidates: list[StoredEvent] = []
        statuses: list[tuple[str, bool]] = []
        for m in batch:
            if m.topic.endswith("/status"):
                statuses.append(self._status(m))
                continue
            try:
                candidates.append(admit(m.topic, m.payload, self.directory, received_at))
            except Rejected as r:
                rejected[r.reason] += 1
                self._warn.warn(r.device, r.reason, m.topic)
        stored: list[StoredEvent] = []
        while True:
            try:
                outcomes = self.storage.store_events(candidates, received_at) if candidates else []
                for status in statuses:
                    if status[0]:
                        self.storage.record_status(status[0], status[1], received_at)
                break
            except Exception:  # the database is locked or the disk full: keep the messages, retry
                log.exception("storing a batch of %d failed; retrying", len(candidates))
                time.sleep(1)
        committed: dict[tuple[str, str], list[int]] = defaultdict(list)
        for event, outcome in zip(candidates, outcomes):
            if outcome in ("stored", "duplicate"):
                committed[(event.site, event.device)].append(event.seq)
            if outcome == "stored":
                stored.append(event)
            else:
                rejected[outcome] += 1
                if outcome == "replay":
                    self._warn.warn(event.device, outcome, event.id)
        for event in stored:
            try:
                self._follow_up(event, received_at)
            except Exception:  # the event is stored (and audited); a view of it failing must not stop ingest
                log.exception("follow-up of stored event %s (%s) failed", event.id, event.kind)
        # Tell each device what is safe to forget from its outbox, then release the broker's copies.
        # In this order: killed in between, the broker redelivers, and the duplicates are confirmed again.
        for (site, device), seqs in committed.items():
            self._client.publish(cmd_topic(site, device, ACK), DeliveryAck.of(seqs).model_dump_json(), qos=1)
        for m in batch:
            if m.qos > 0:
                self._client.ack(m.mid, m.qos)
        self.metrics.add(len(batch) - len(statuses), len(stored), rejected, 1000 * (time.perf_counter() - started))
        if stored and self.on_stored:
            self.on_stored(stored)

    def _follow_up(self, event: StoredEvent, received_at: str) -> None:
        """What a stored event changes beyond the event log: galleries, erasures, exam sessions."""
        if event.kind == "gallery":  # the device runs this version now: its erasures are done
            self.storage.gallery_applied(event.device, json.loads(event.body)["version"], received_at)
        elif event.kind.startswith("exam."):  # sessions, flags and evidence for the supervisors' review
            body = json.loads(event.body)
            self.storage.project_exam_event(body, received_at, self.clock_skew_limit_s)
            if event.kind == "exam.session" and body.get("ended_at"):
                session = self.storage.exam_session(body["session"])
                if session and session["created_by"]:  # it ran: the retained command has done its job
                    self._client.publish(cmd_topic(event.site, event.device, SESSION), b"", qos=1, retain=True)

    def _status(self, m: _Message) -> tuple[str | None, bool]:
        try:
            where = parse_topic(m.topic)
        except TopicError:
            return None, False
        if self.directory.get(where.device) is None:
            return None, False
        return where.device, m.payload == b"online"
