"""The ingest worker: MQTT in, checked events into storage, nothing lost and nothing wedged.

It holds a persistent MQTT session (clean_session=False, QoS 1) and
acknowledges each message only after the batch holding it is committed, so
a gateway killed mid-batch gets those messages again from the broker on its
return; event-id de-duplication makes the redelivery harmless. After each
commit it tells every device which of its sequence numbers are safely kept
(`cmd/ack`), and only then does the device forget them.

Every message ends in exactly one of three states:
- **stored** (with its audit entry, and what it changes -- a gallery applied,
  an exam record -- in the same transaction);
- **rejected** with one reason, counted in `/api/metrics` and logged at most
  once per device and reason a minute:

      too_large, too_deep, malformed, schema_version, invalid, bad_topic,
      unknown_device, revoked_device, missing_signature, bad_signature,
      topic_mismatch, not_exam_device, foreign_session, foreign_flag,
      foreign_evidence, duplicate, replay

- **quarantined**: anything that fails for a reason nobody foresaw (a bug, a
  row the database refuses) is kept with its raw bytes in the `quarantine`
  table, visible in the metrics and at `/api/quarantine`, and the rest of the
  batch goes on. A poison message costs one message, never the batch or the
  stream. Only a database that cannot write at all (disk full, locked for
  longer than the busy timeout) makes ingest wait and retry, because then
  nothing could be kept anywhere.

An event whose `captured_at` is implausible -- in the future by more than the
allowed skew, before its device was provisioned, or older than the longest
plausible outbox backlog -- is stored with `clock_suspect` set, and retention
counts its age from when the gateway received it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import uuid
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from gateway.services.broker.mosquitto import replica_login
from gateway.services.devices.doors import unissued_opening
from gateway.services.exams.sessions import Refused, project
from gateway.services.people.kiosk import CardProjector
from gateway.services.devices.configs import reported as config_reported
from gateway.services.updates.rollouts import reported as update_reported
from gateway.services.devices.galleries import gallery_applied
from gateway.services.events.local_time import DEFAULT_TIME_ZONE
from gateway.services.visitors.passages import record_passages
from gateway.storage import Device, Store, StoredEvent, Tx
from gateway.storage.audit import row_digest
from gateway.storage.postgres.replicas import announce
from wire import SignatureError, TopicError, canonical_json, parse_event, parse_topic, public_key_from_text
from wire.commands import ACK, SESSION, DeliveryAck
from wire.events import EnvelopeError, parse_envelope, utc_text
from wire.mqtt import BrokerUrl, TlsSettings, new_client
from wire.redact import redact
from wire.signing import verify_canonical
from wire.topics import ALL_EVENTS, ALL_STATUS, GATEWAY_ONLINE, cmd_topic, shared

log = logging.getLogger(__name__)

SHARE_GROUP = "facegate-gateway"  # replicas' shared subscription group


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


@dataclass
class _CheckedBatch:
    """A batch after checking: what to store, what was refused, and what is kept aside."""

    batch: list[_Message]
    received_at: str
    started: float  # perf_counter when checking began: the batch latency counts from here
    candidates: list[tuple[_Message, StoredEvent]] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    quarantine: list[tuple[_Message, str, str]] = field(default_factory=list)  # (message, reason, error)
    statuses: list[tuple[str, bool]] = field(default_factory=list)  # (device, online)
    status_messages: int = 0


@dataclass(frozen=True)
class ClockRules:
    """When a device's clock is not to be trusted for an event's age."""

    skew_limit_s: float = 300.0  # further in the future than this
    max_backlog_days: float = 60.0  # older than this on arrival (an outbox can hold weeks offline, not years)

    def suspect(self, captured_at: datetime, received_at: datetime, device: Device) -> bool:
        if captured_at > received_at + timedelta(seconds=self.skew_limit_s):
            return True
        if captured_at < received_at - timedelta(days=self.max_backlog_days):
            return True
        provisioned = datetime.fromisoformat(device.created_at.replace("Z", "+00:00")) if device.created_at else None
        return provisioned is not None and captured_at < provisioned - timedelta(seconds=self.skew_limit_s)


class IngestMetrics:
    """Counters since the gateway started (thread-safe)."""

    BATCH_MS_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.stored = 0
        self.quarantined = 0
        self.rejected: Counter[str] = Counter()
        self.batches = 0
        self.broker_connects = 0  # more than one: the link to the broker was lost (and found again)
        self.last_commit_ms = 0.0
        self.commit_ms_sum = 0.0
        self.commit_ms_buckets = [0] * len(self.BATCH_MS_BUCKETS)  # batches that took at most each bound
        self.started = time.time()

    def add(self, received: int, stored: int, quarantined: int, rejected: Counter[str], commit_ms: float) -> None:
        with self._lock:
            self.received += received
            self.stored += stored
            self.quarantined += quarantined
            self.rejected.update(rejected)
            self.batches += 1
            self.last_commit_ms = commit_ms
            self.commit_ms_sum += commit_ms
            for i, bound in enumerate(self.BATCH_MS_BUCKETS):
                if commit_ms <= bound:
                    self.commit_ms_buckets[i] += 1

    def connected(self) -> None:
        with self._lock:
            self.broker_connects += 1

    def batch_latency(self) -> tuple[list[tuple[float, int]], float, int]:
        """(bound in ms, batches at most that long) for each bucket, the sum of ms, and the count."""
        with self._lock:
            return list(zip(self.BATCH_MS_BUCKETS, self.commit_ms_buckets)), self.commit_ms_sum, self.batches

    def snapshot(self) -> dict:
        with self._lock:
            return {"received": self.received, "stored": self.stored, "quarantined": self.quarantined,
                    "rejected": dict(self.rejected), "rejected_total": sum(self.rejected.values()),
                    "batches": self.batches, "broker_connects": self.broker_connects,
                    "last_commit_ms": round(self.last_commit_ms, 2),
                    "uptime_s": round(time.time() - self.started, 1)}


class _OncePerMinute:
    """Logs a rejection at most once per (device, reason) per minute: a broken device must not flood the log."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def warn(self, device: str | None, reason: str, topic: str) -> None:
        key, now = (device or "?", reason), time.monotonic()
        if now - self._last.get(key, -1e9) >= 60:
            self._last[key] = now
            # %r: the topic came from outside; repr keeps control characters out of the log's lines.
            log.warning("dropped event from %s: %s (topic %r; further ones this minute are only counted)",
                        device or "?", reason, topic[:200])


class DeviceDirectory:
    """Device keys and status, cached; re-read at most every `refresh_s` (so a revocation bites within it).

    A device the cache does not know is looked up by itself at once: its bundle exists only after its row is
    committed, so a device speaking a moment after it was provisioned is always found (a device's first
    heartbeat is not resent for a minute). An id found nowhere is not looked up again for a second, and at
    most `lookups_per_s` ids are, so a flood of made-up ids costs a few key lookups a second."""

    def __init__(self, store: Store, refresh_s: float = 2.0, lookups_per_s: int = 50):
        self.store = store
        self.refresh_s = refresh_s
        self.lookups_per_s = lookups_per_s
        self._devices: dict[str, Device] = {}
        self._keys: dict[str, object] = {}
        self._loaded_at = -1e9
        self._missing: dict[str, float] = {}  # id -> when it was last found nowhere
        self._window = (-1e9, 0)  # (start of this second, lookups in it)

    def get(self, device: str) -> Device | None:
        now = time.monotonic()
        if now - self._loaded_at > self.refresh_s:
            self._devices = {d.id: d for d in self.store.devices.all()}
            self._keys = {}
            self._missing = {}
            self._loaded_at = now
        devices = self._devices  # a refresh on another thread replaces the dict; this one stays whole
        if device not in devices and self._may_look_up(device, now):
            found = self.store.devices.get(device)
            if found is None:
                self._missing[device] = now
            else:
                devices[device] = found
        return devices.get(device)

    def _may_look_up(self, device: str, now: float) -> bool:
        if now - self._missing.get(device, -1e9) < 1.0:
            return False
        start, count = self._window
        if now - start >= 1.0:
            start, count = now, 0
        if count >= self.lookups_per_s:
            return False
        self._window = (start, count + 1)
        return True

    def key(self, device: Device):
        keys = self._keys  # a refresh on another thread replaces the dict; this one stays whole
        if device.id not in keys:
            keys[device.id] = public_key_from_text(device.public_key)
        return keys[device.id]


def admit(topic: str, payload: bytes, directory: DeviceDirectory, received_at: str,
          clock: ClockRules = ClockRules()) -> StoredEvent:
    """Check one MQTT message against the wire contract; the event to store, or Rejected(reason)."""
    try:
        where = parse_topic(topic)
    except TopicError:
        raise Rejected("bad_topic") from None
    try:
        body, sig = parse_envelope(payload)
    except EnvelopeError as exc:
        raise Rejected(exc.reason, where.device) from None
    try:
        event = parse_event(body)
    except ValidationError:
        raise Rejected("invalid", where.device) from None
    device = directory.get(event.device)
    if device is None:
        raise Rejected("unknown_device", event.device)
    if not device.active:
        raise Rejected("revoked_device", event.device)
    canonical = canonical_json(body)  # what the device signed, and what is stored
    try:
        verify_canonical(canonical, sig, directory.key(device))
    except SignatureError as exc:
        raise Rejected("missing_signature" if "missing" in str(exc) else "bad_signature", event.device) from None
    # Signed by device X but sent to device Y's topic (or naming another site): someone is relaying.
    if (where.device, where.site, where.name) != (event.device, device.site, event.kind) or event.site != device.site:
        raise Rejected("topic_mismatch", event.device)
    if event.kind.startswith("exam.") and device.kind != "exam":
        raise Rejected("not_exam_device", event.device)
    if event.kind == "card" and device.kind != "kiosk":
        raise Rejected("not_kiosk_device", event.device)
    received = datetime.fromisoformat(received_at.replace("Z", "+00:00"))
    return StoredEvent(  # retain_from follows from clock_suspect (StoredEvent)
        id=event.id, site=event.site, device=event.device, kind=event.kind, seq=event.seq,
        captured_at=utc_text(event.captured_at), received_at=received_at,
        verdict=getattr(event, "verdict", None) or getattr(event, "outcome", None),  # a door event's outcome
        subject=getattr(event, "subject", None),
        score=getattr(event, "score", None), body=canonical.decode("utf-8"), sig=sig,
        clock_suspect=clock.suspect(event.captured_at, received, device),
    )


@dataclass
class BatchResult:
    """What became of each admitted event, and what follows once committed."""

    outcomes: list[str] = field(default_factory=list)  # per event: "stored", "duplicate", "replay" or a refusal
    sessions_ended: list[StoredEvent] = field(default_factory=list)  # gateway-created sessions that have run


def store_batch(store: Store, tx: Tx, candidates: list[StoredEvent], skew_limit_s: float,
                cards: CardProjector | None = None, zone: str = DEFAULT_TIME_ZONE) -> BatchResult:
    """Store admitted events in `tx`: de-duplicated, each with its audit entry and what it changes.

    duplicate: its id is already stored (QoS 1 redelivery, a resend, or a verbatim replay).
    replay: a new id reusing a sequence number the device has already used.
    """
    result = BatchResult()
    stored: list[StoredEvent] = []
    known = store.events.known_ids(tx, [e.id for e in candidates])
    used = store.events.used_seqs(tx, [(e.device, e.seq) for e in candidates])
    last_seq = store.devices.last_seqs(tx, {e.device for e in candidates})
    heartbeats: dict[str, tuple[str, str, float]] = {}
    accepted: list[tuple] = []
    for e in candidates:
        if e.id in known:
            result.outcomes.append("duplicate")
            continue
        # Late arrivals are fine (a resend after a broker crash); a used number under a new id is not.
        if (e.device, e.seq) in used:
            result.outcomes.append("replay")
            continue
        try:
            ended = _follow_up(store, tx, e, skew_limit_s, cards)
        except Refused as refused:
            result.outcomes.append(refused.reason)
            continue
        known.add(e.id)
        used.add((e.device, e.seq))
        row = e.row()
        accepted.append(row)
        last_seq[e.device] = max(last_seq.get(e.device, 0), e.seq)
        if e.kind == "heartbeat":  # the devices page's copy: a URL's secrets masked even from an older device
            heartbeats[e.device] = (redact(e.body), e.captured_at, _skew(e))
        if ended:
            result.sessions_ended.append(e)
        tx.audit(f"device:{e.device}", "event.stored", e.id, {"digest": row_digest(row), "v": 2}, at=e.received_at)
        result.outcomes.append("stored")
        stored.append(e)
    store.events.insert(tx, accepted)
    record_passages(store, tx, stored, zone)  # the visitors' counts, people inside, passes' entries: a batch at once
    store.devices.record_progress(tx, last_seq, heartbeats)
    return result


def _skew(event: StoredEvent) -> float:
    """Gateway minus device clock, in seconds, as far as one event shows it (a heartbeat is sent at once)."""
    captured = datetime.fromisoformat(event.captured_at.replace("Z", "+00:00"))
    received = datetime.fromisoformat(event.received_at.replace("Z", "+00:00"))
    return round((received - captured).total_seconds(), 1)


def _follow_up(store: Store, tx: Tx, event: StoredEvent, skew_limit_s: float, cards: CardProjector | None) -> bool:
    """What a stored event changes beyond the event log, in its transaction; True if an exam session ended."""
    if event.kind == "gallery":  # the device runs this version now: its erasures are done
        gallery_applied(store, tx, event.device, json.loads(event.body)["version"], event.received_at)
    elif event.kind == "config":  # what became of a configuration version, and the one the device runs
        config_reported(store, tx, event.device, json.loads(event.body), event.received_at)
    elif event.kind == "update":  # what became of an update command (a rollout looks at it on its next pass)
        update_reported(store, tx, event.device, json.loads(event.body), event.received_at)
    elif event.kind.startswith("exam."):  # sessions, flags and evidence for the supervisors' review
        with tx.savepoint():  # a refusal undoes only this event's changes
            return project(store, tx, event, skew_limit_s)
    elif event.kind == "card" and cards is not None:  # a kiosk's card read, for its consent screen
        with tx.savepoint():
            cards.project(store, tx, event)
    elif event.kind == "door" and (why := unissued_opening(store, event)):
        raise Refused(why)
    return False


class Ingest:
    """Subscribes to every device's events and status; stores events in batches.

    Alone (`replica` None) the gateway keeps a persistent session, so the broker queues what arrives while it
    restarts. As one of several replicas it joins the shared subscription `$share/facegate-gateway/...`: the
    broker hands each message to one connected replica. Its session is clean, because Mosquitto keeps handing
    a share of the messages to a persistent member that is gone; a message in flight on a replica that dies
    is sent again by its device (no ack came: edge/link/publisher.py), and whichever replica gets it stores it
    once -- the duplicate check runs under the database's write lock.
    """

    def __init__(self, store: Store, broker: BrokerUrl, *, replica: str | None = None, tls: TlsSettings | None = None,
                 batch_max: int = 1000, on_stored: Callable[[list[StoredEvent]], None] | None = None,
                 clock: ClockRules = ClockRules(), exam_skew_flag_s: float = 120.0,
                 cards: CardProjector | None = None, time_zone: str = DEFAULT_TIME_ZONE):
        self.store = store
        self.cards = cards
        self.time_zone = time_zone  # the sites' clock: occupancy is counted per local day
        self.broker = broker
        self.replica = replica
        self.batch_max = batch_max
        self.on_stored = on_stored
        self.clock = clock
        self.exam_skew_flag_s = exam_skew_flag_s  # exam events further off than this: a technical flag
        self.metrics = IngestMetrics()
        self.directory = DeviceDirectory(store)
        self._warn = _OncePerMinute()
        self._queue: queue.Queue[_Message | None] = queue.Queue()
        # manual_ack: the broker's copy is released only after our commit.
        # The broker makes the login the client id anyway (one login, one connection: broker/mosquitto.py).
        self._client = new_client(broker.username or replica_login(replica), broker, clean_session=bool(replica),
                                  manual_ack=True, max_inflight=batch_max, tls=tls)
        self._filters = [shared(f, SHARE_GROUP) if replica else f for f in (ALL_EVENTS, ALL_STATUS)]
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        # Two stages, so checking the next batch (parsing, signatures: CPU) overlaps committing this one (mostly
        # waiting on the database). At most two checked batches wait: the broker holds the rest, unacknowledged.
        self._checked: queue.Queue[_CheckedBatch | None] = queue.Queue(maxsize=2)
        self._checker = threading.Thread(target=self._check_loop, name="ingest-checker", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.connected = threading.Event()
        self._stopping = False

    def start(self) -> None:
        self._checker.start()
        self._writer.start()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        self._checker.join(timeout=10)
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
        client.subscribe([(f, 1) for f in self._filters])
        # After the subscription (the broker takes a client's packets in order): devices that sent while no
        # gateway was subscribed -- a broker restarted without our session -- send their window again now.
        client.publish(GATEWAY_ONLINE, uuid.uuid4().hex, qos=1, retain=True)
        log.info("ingest connected to %s (session %s)", self.broker,
                 "resumed" if flags.session_present else "new")
        self.metrics.connected()
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("ingest lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self._queue.put(_Message(message.topic, message.payload, message.mid, message.qos))

    def _check_loop(self) -> None:
        """Stage 1: take what has arrived (up to batch_max) and check it against the wire contract."""
        while True:
            first = self._queue.get()
            if first is None:
                self._checked.put(None)
                return
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._checked.put(self._check(batch))
                    self._checked.put(None)
                    return
                batch.append(item)
            self._checked.put(self._check(batch))

    def _write_loop(self) -> None:
        """Stage 2: store each checked batch in one transaction, then confirm and acknowledge it."""
        while (checked := self._checked.get()) is not None:
            self._keep_until_stored(checked)

    def _keep_until_stored(self, checked: _CheckedBatch) -> None:
        """Store the batch; wait and retry only while the database cannot write at all."""
        pause = 1.0
        while True:
            try:
                self._keep(checked)
                return
            except OperationalError:  # disk full, database locked past the busy timeout: not the messages' fault
                log.exception("the database cannot store a batch of %d messages; retrying in %.0f s",
                              len(checked.batch), pause)
                time.sleep(pause)
                pause = min(30.0, pause * 2)

    def _check(self, batch: list[_Message]) -> _CheckedBatch:
        checked = _CheckedBatch(batch, utc_text(datetime.now(timezone.utc)), time.perf_counter())
        for m in batch:
            if m.topic.endswith("/status"):
                checked.status_messages += 1
                if (status := self._status(m)) is not None:
                    checked.statuses.append(status)
                continue
            try:
                checked.candidates.append((m, admit(m.topic, m.payload, self.directory, checked.received_at,
                                                    self.clock)))
            except Rejected as r:
                checked.rejected[r.reason] += 1
                self._warn.warn(r.device, r.reason, m.topic)
            except Exception as exc:  # a bug in checking: keep the message for an engineer, go on
                log.exception("checking a message on %r failed; quarantined", m.topic[:200])
                checked.quarantine.append((m, "admit_failed", repr(exc)))
        return checked

    def _keep(self, checked: _CheckedBatch) -> None:
        candidates, received_at, statuses = checked.candidates, checked.received_at, checked.statuses
        rejected = Counter(checked.rejected)  # a retry after a failed commit starts from the checked counts
        quarantine = list(checked.quarantine)
        try:
            results = self._store([e for _, e in candidates], statuses, received_at)
        except OperationalError:
            raise
        except Exception:  # one of them poisons the batch: store each on its own, quarantine the one that fails
            log.exception("a batch of %d events failed; storing them one by one", len(candidates))
            results = BatchResult()
            for m, event in candidates:
                try:
                    one = self._store([event], [], received_at)
                except OperationalError:
                    raise
                except Exception as exc:
                    log.exception("event %s from %s cannot be stored; quarantined", event.id, event.device)
                    quarantine.append((m, "store_failed", repr(exc)))
                    results.outcomes.append("quarantined")
                    continue
                results.outcomes += one.outcomes
                results.sessions_ended += one.sessions_ended
            self._store([], statuses, received_at)
        kept = self._quarantine(quarantine, received_at)
        stored: list[StoredEvent] = []
        committed: dict[tuple[str, str], list[int]] = defaultdict(list)
        for (m, event), outcome in zip(candidates, results.outcomes):
            if outcome in ("stored", "duplicate", "quarantined"):  # kept here: the device may forget it
                committed[(event.site, event.device)].append(event.seq)
            if outcome == "stored":
                stored.append(event)
            elif outcome != "quarantined":
                rejected[outcome] += 1
                self._warn.warn(event.device, outcome, m.topic)
        for event in results.sessions_ended:  # it ran: the retained command has done its job
            self._client.publish(cmd_topic(event.site, event.device, SESSION), b"", qos=1, retain=True)
        # Tell each device what is safe to forget from its outbox, then release the broker's copies.
        # In this order: killed in between, the broker redelivers, and the duplicates are confirmed again.
        for (site, device), seqs in committed.items():
            self._client.publish(cmd_topic(site, device, ACK), DeliveryAck.of(seqs).model_dump_json(), qos=1)
        for m in checked.batch:
            if m.qos > 0:
                self._client.ack(m.mid, m.qos)
        self.metrics.add(len(checked.batch) - checked.status_messages, len(stored), kept, rejected,
                         1000 * (time.perf_counter() - checked.started))
        if stored and self.on_stored:
            self.on_stored(stored)

    def _store(self, events: list[StoredEvent], statuses: list[tuple[str, bool]], received_at: str) -> BatchResult:
        with self.store.db.transaction(unaudited="device online flags only") as tx:
            result = store_batch(self.store, tx, events, self.exam_skew_flag_s, self.cards,
                                     self.time_zone) if events else BatchResult()
            for device, online in statuses:
                self.store.devices.record_online(tx, device, online, received_at)
            if self.replica and tx.postgres:  # the other replicas' live streams show these too
                announce(tx, self.replica, [e.id for e, o in zip(events, result.outcomes) if o == "stored"])
        return result

    def _quarantine(self, items: list[tuple[_Message, str, str]], received_at: str) -> int:
        """Keep each message's raw bytes with the reason; how many were newly kept."""
        kept = 0
        for m, reason, error in items:
            digest = hashlib.sha256(m.payload).hexdigest()
            try:
                device = parse_topic(m.topic).device
            except TopicError:
                device = None
            with self.store.db.transaction(unaudited="the same message is already in quarantine") as tx:
                if self.store.events.quarantine(tx, received_at, m.topic, device, reason, error, m.payload, digest):
                    tx.audit("system", "ingest.quarantined", device, {"reason": reason, "sha256": digest})
                    kept += 1
        return kept

    def _status(self, m: _Message) -> tuple[str, bool] | None:
        try:
            where = parse_topic(m.topic)
        except TopicError:
            return None
        if self.directory.get(where.device) is None:
            return None
        return where.device, m.payload == b"online"
