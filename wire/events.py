"""Versioned event schemas: what a device says, and what the gateway stores.

On the wire an event travels as an envelope

    {"body": {...one of the events below...}, "sig": "<base64 Ed25519 signature>"}

where the signature covers the canonical serialisation of `body`
(`wire.signing.canonical_json`). `v` is the schema version: a gateway refuses
versions it does not know rather than guessing. New kinds (exam flags, gallery
acknowledgements) join the `Event` union with their own `kind`.
"""

from __future__ import annotations

import json
import numbers
import re
from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from wire.names import FlagKind, Method, VerdictKind
from wire.topics import ID_PATTERN

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_NESTING = 16  # an envelope holds at most 4 levels; anything deeper is refused before parsing

# Every field is bounded, so nothing a device sends can overflow a database column, a page or a log line.
_EARLIEST, _LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc)


def _plausible_year(value: datetime) -> datetime:
    # A device without a real-time clock may say 1970: that is kept (and marked by the gateway), not refused.
    if not _EARLIEST <= value < _LATEST:
        raise ValueError("timestamp outside 1970-2199")
    return value


def _rfc3339_text(value):
    # On the wire a timestamp is RFC 3339 text. Pydantic would also take a number (Unix time), but the signed
    # body is stored as sent, and what reads it back (exam projections, pages, reports) reads text.
    if not isinstance(value, (str, datetime)):
        raise ValueError("a timestamp is RFC 3339 text, e.g. 2026-11-23T08:30:00Z")
    return value


def _json_integer(value):
    # Pydantic would also take true/false or "5" for an integer. The signed body is stored as sent and read back
    # (a gallery event's version, exam projections), so the value as sent must already be the value meant.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError("an integer is a JSON number without a fraction, e.g. 5")
    return value


def _json_number(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError("a number is a JSON number, e.g. 0.5, not text or true/false")
    return value


def _json_bool(value):
    if not isinstance(value, bool) and isinstance(value, (str, bytes, numbers.Number)):
        raise ValueError("a flag is true or false, not text or a number")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_plausible_year)]
Count = Annotated[int, BeforeValidator(_json_integer), Field(ge=0, le=2**53)]  # exact in JSON and any database
ConfigVersion = Annotated[int, BeforeValidator(_json_integer), Field(ge=0, le=2**31 - 1)]  # a database integer
Number = Annotated[float, BeforeValidator(_json_number), Field(ge=-1e12, le=1e12)]
Flag = Annotated[bool, BeforeValidator(_json_bool)]
DeviceId = Annotated[str, Field(pattern=ID_PATTERN.pattern)]
# Ids a device chooses (sessions, flags, evidence) end up in URLs and pages: letters, digits, '.', '_', '-' only.
RecordId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]
StageName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_+.-]{0,31}$")]  # e.g. "align+embed"


class EventBase(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    v: Literal[1] = SCHEMA_VERSION
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    site: DeviceId
    device: DeviceId
    seq: Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=2**53)]  # per device, gap-free except for heartbeats dropped from a full outbox
    captured_at: Timestamp
    model_pack: Annotated[str, Field(max_length=64)] | None = None


class GateVerdictEvent(EventBase):
    """A gate's decision about one person passing."""

    kind: Literal["verdict"] = "verdict"
    camera: Annotated[str, Field(max_length=64)]
    track: Count
    # passback: granted, but this person already went in through this lane's direction (edge/gate/rules.py);
    # no_pass, wrong_gate, used: granted, but refused by the person's passes (edge/gate/passes.py)
    verdict: VerdictKind
    subject: DeviceId | None  # enrolled subject id (same alphabet as device ids); None unless matched
    score: Number  # best subject's cosine similarity
    runner_up: Number | None
    threshold: Number
    margin: Number
    quality: Number
    frames: Count  # good frames combined into the decision
    liveness_enabled: Flag = False
    liveness: Number | None = None
    lane: Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=64)] | None = None  # the camera's lane
    direction: Literal["in", "out"] | None = None  # of the lane's door, when one is configured
    # Stream time from the first frame in which the face passed the quality gate to this verdict (issue 16)
    time_to_decision_ms: Annotated[float, BeforeValidator(_json_number), Field(ge=0, le=3.6e6)] | None = None
    pass_id: RecordId | None = None  # the pass that let them in (or was refused); None: admitted by consent alone
    method: Method = "face"  # qr: a QR ticket shown to the camera (score and frames then 0)
    # unknown, spoof_suspected: the SHA-256 of the small face crop sent beside it (GateCropEvent), never for others
    crop_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


Lane = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=64)]


class DoorStatus(BaseModel):
    """One door output as a heartbeat states it: how it is set up, and whether it worked last time."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lane: Lane
    kind: Literal["gpio", "serial", "isapi", "webhook", "wiegand"]
    direction: Literal["in", "out"]
    fail_mode: Literal["secure", "safe"]  # secure: locked while FaceGate is down; safe: unlocked (fire exits)
    state: Literal["ok", "fault"]
    door: Literal["open", "closed"] | None = None  # from a door contact or the controller; None: cannot tell
    error: Annotated[str, Field(max_length=1000)] | None = None
    opened: Count = 0  # openings since start


class CameraStatus(BaseModel):
    """One camera of a node as a heartbeat states it, over the heartbeat's window (rates) or since start (counts)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    camera: RecordId
    lane: Lane
    fps: Number  # frames the loop processed, per second
    source_fps: Number  # frames the camera delivered, per second
    behind: Flag = False  # the loop kept under 95 % of the camera's frames: the node is over capacity for it
    frames: Count = 0
    frames_dropped: Count = 0  # replaced by a newer frame before the loop took them
    static_skipped: Count = 0  # detections the motion gate saved (nothing changed, nobody tracked)
    sub_detected: Count = 0  # detections run on the camera's small sub-stream instead of its main stream
    main_skipped: Count = 0  # main-stream frames not converted to pixels (nobody in view of a sub-stream camera)
    decisions: Count = 0  # verdicts in the window
    time_to_decision_ms: Number | None = None  # median, stream time: first good frame of the face -> verdict
    time_to_decision_wall_ms: Number | None = None  # median, wall time: that frame reaching the loop -> verdict
    over_rate: Count = 0  # frames a live camera sent beyond its declared fps, skipped
    error: Annotated[str, Field(max_length=1000)] | None = None  # why the camera stopped, or is down right now


class DoorEvent(EventBase):
    """A door opened (by a grant or an operator's command) or could not be opened."""

    kind: Literal["door"] = "door"
    lane: Lane
    outcome: Literal["opened", "failed"]
    cause: Literal["grant", "operator"]
    subject: DeviceId | None = None  # whom a grant opened for
    track: Count | None = None  # the granted person's track (as in their verdict event)
    command: RecordId | None = None  # the operator's signed command (wire/commands.py DoorCommand.id)
    operator: Annotated[str, Field(max_length=64)] | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None  # the operator's, as given
    latency_ms: Number | None = None  # from the verdict (or the command's arrival) to the output switching
    attempts: Count = 1
    error: Annotated[str, Field(max_length=1000)] | None = None


class TailgateEvent(EventBase):
    """Someone crossed a lane while its door stood open for another person, without a grant of their own."""

    kind: Literal["tailgate"] = "tailgate"
    lane: Lane
    camera: Annotated[str, Field(max_length=64)]
    track: Count  # the person who followed
    after_track: Count  # the person the door opened for
    after_subject: DeviceId | None = None
    boxes: Count  # the most faces in one frame while the door stood open (no photo is kept)


class HeartbeatEvent(EventBase):
    """A device's periodic health report."""

    kind: Literal["heartbeat"] = "heartbeat"
    fps: Number
    stage_ms: Annotated[dict[StageName, Number], Field(max_length=32)]  # mean ms per frame for each pipeline stage
    frames: Count
    frames_dropped: Count
    outbox_depth: Count
    outbox_refused: Count  # verdicts refused by a full outbox since start (never silently: also logged)
    gallery_version: Annotated[str, Field(max_length=64)] | None
    gallery_size: Count
    liveness_enabled: Flag
    uptime_s: Number
    camera_error: Annotated[str, Field(max_length=1000)] | None = None
    doors: list[DoorStatus] = Field(default_factory=list, max_length=64)
    door_commands_refused: Count = 0  # forged, stale, replayed or foreign `cmd/door` since start
    cameras: list[CameraStatus] = Field(default_factory=list, max_length=64)  # each camera; fps etc. above: all
    over_capacity: Flag = False  # some camera is `behind`
    software: Annotated[str, Field(max_length=64)] | None = None  # the FaceGate release running (issue 29)
    config_version: ConfigVersion | None = None  # the configuration version running (0: the local file)
    pack_version: ConfigVersion | None = None  # the version of its model pack running (0: the one it came with)


class GalleryAppliedEvent(EventBase):
    """The device now matches against this gallery version (see wire/gallery.py)."""

    kind: Literal["gallery"] = "gallery"
    version: Count
    size: Count  # subjects in it


class ConfigEvent(EventBase):
    """What became of a configuration the gateway sent (wire/device_config.py): `applied` (live, or by restarting
    the node) or `refused` with the reason, the device still running `running` (0: its local file)."""

    kind: Literal["config"] = "config"
    version: ConfigVersion | None  # the version in question; None: a message that could not be read as one
    outcome: Literal["applied", "refused"]
    how: Literal["live", "restart", "start"] | None = None  # applied: while running, by a restart, at start
    running: ConfigVersion
    reason: Annotated[str, Field(max_length=1000)] = ""


class UpdateEvent(EventBase):
    """What became of an update the gateway sent (wire/updates.py): `applied`, or `refused` with the reason -- a
    forged, replayed or downgrading command, a file that does not download or match its hash, too little disk, a
    failed self-test, a node that does not run on it, a release that fails its health check -- the device still
    running version `running` of the pack, or of the releases the gateway sent (0: as it was provisioned)."""

    kind: Literal["update"] = "update"
    update_kind: Literal["pack", "software"] = "pack"
    name: Annotated[str, Field(max_length=64)]
    sequence: ConfigVersion | None  # the command's; None: a message that could not be read as one
    version: ConfigVersion | None
    outcome: Literal["applied", "refused"]
    running: ConfigVersion
    rollout: ConfigVersion | None = None
    self_test: Number | None = None  # the least cosine of the self-test's reference images, when one ran
    reason: Annotated[str, Field(max_length=1000)] = ""


class ExamCheck(BaseModel):
    """One 1:1 verification of the candidate during a session."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    at: Timestamp
    reason: Literal["checkin", "periodic", "face_returned", "logout"]
    score: Number | None  # None: no usable face at the time
    passed: Flag
    liveness: Number | None = None


class ExamFlagEvent(EventBase):
    """A flag raised (end None) or closed during an exam session; the gateway keeps the latest state by flag id."""

    kind: Literal["exam.flag"] = "exam.flag"
    session: RecordId
    flag: RecordId  # flag id (UUIDv7)
    flag_kind: FlagKind
    start: Timestamp
    end: Timestamp | None = None
    confidence: Annotated[float, BeforeValidator(_json_number), Field(ge=0, le=1)]
    severity: Literal["low", "medium", "high"]
    detail: Annotated[str, Field(max_length=2000)] = ""
    evidence: list[RecordId] = Field(default_factory=list, max_length=100)  # evidence ids


class GateCropEvent(EventBase):
    """The small face crop of a gate verdict that needs a person (`unknown`, `spoof_suspected`), for the operator's
    card: a JPEG, AES-GCM encrypted with the device's key (wire/evidence.py), bound to its verdict. Kept a short
    while (its own retention), never made for a visitor let in."""

    kind: Literal["crop"] = "crop"
    verdict: RecordId  # the verdict event's id
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # of the JPEG: what the verdict event signed too
    nonce: Annotated[str, Field(max_length=64)]
    ciphertext: Annotated[str, Field(max_length=MAX_PAYLOAD_BYTES // 2)]  # a crop is a few kilobytes


class ExamEvidenceEvent(EventBase):
    """A small JPEG (face crop or context frame), AES-GCM encrypted for the gateway with the device's key."""

    kind: Literal["exam.evidence"] = "exam.evidence"
    session: RecordId
    evidence: RecordId  # evidence id
    what: Literal["face", "context"]
    reason: RecordId  # "checkin", "logout", or the flag id
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # of the JPEG itself: tampering is detectable
    nonce: Annotated[str, Field(max_length=64)]
    ciphertext: Annotated[str, Field(max_length=MAX_PAYLOAD_BYTES)]


class ExamSessionEvent(EventBase):
    """An exam session's start (ended_at None) and its signed summary at the end."""

    kind: Literal["exam.session"] = "exam.session"
    session: RecordId
    candidate: DeviceId  # a subject id: same alphabet
    exam_type: Annotated[str, Field(max_length=40)]
    stage: Annotated[str, Field(max_length=40)]
    seat: Annotated[str, Field(max_length=40)] | None = None
    started_at: Timestamp
    ended_at: Timestamp | None = None
    checkin: Literal["pending", "passed", "failed", "presentation_attack", "refused"]
    checkin_score: Number | None = None
    checkin_chip_score: Number | None = None  # checked in with a chip ID card: the live face against its portrait
    checks: list[ExamCheck] = Field(default_factory=list, max_length=400)  # the newest 400
    checks_total: Count = 0
    flags: list[RecordId] = Field(default_factory=list, max_length=1000)  # flag ids raised in the session
    evidence: list[RecordId] = Field(default_factory=list, max_length=1000)
    reason: Annotated[str, Field(max_length=500)] = ""  # why check-in failed or the session could not start


class CardEvent(EventBase):
    """A kiosk's progress on one chip-card read the gateway asked for (issue 15).

    stage `read`: the chip was read and its files hash to its security object (outcome: the device's own passive
    authentication, without a trust store: `untrusted_issuer` or `tampered`; the gateway decides trust).
    stage `face`: the live face was taken and matched 1:1 to the chip portrait (outcome matched, mismatch,
    spoof_suspected, no_face). stage `failed`: the read ended (outcome refused, interrupted, unreadable,
    portrait_unusable, busy), `problem` in plain words.
    What the gateway needs of the card -- DG1, EF.SOD, DG2's digest, the templates -- is sealed for the gateway
    with the device's key (wire/evidence.py): never the portrait, never in the clear.
    """

    kind: Literal["card"] = "card"
    read: RecordId
    stage: Literal["read", "face", "failed"]
    outcome: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    problem: Annotated[str, Field(max_length=500)] = ""
    score: Annotated[float, BeforeValidator(_json_number), Field(ge=-1, le=1)] | None = None
    threshold: Annotated[float, BeforeValidator(_json_number), Field(ge=-1, le=1)] | None = None  # the match's
    liveness: Annotated[float, BeforeValidator(_json_number), Field(ge=0, le=1)] | None = None
    access_attempts: Count | None = None  # stage `read`, key from the card's QR code: the keys tried to open it
    protocol: Annotated[str, Field(max_length=80)] = ""  # stage `read`: what opened the chip (BAC, PACE ...)
    read_ms: Count | None = None  # stage `read`: from the kiosk taking the command to the card read (attempts included)
    nonce: Annotated[str, Field(max_length=64)] = ""
    sealed: Annotated[str, Field(max_length=48 * 1024)] = ""


Event = Annotated[Union[GateVerdictEvent, GateCropEvent, HeartbeatEvent, GalleryAppliedEvent, ConfigEvent,
                        UpdateEvent, DoorEvent, TailgateEvent, ExamFlagEvent, ExamEvidenceEvent, ExamSessionEvent, CardEvent], Field(discriminator="kind")]
EVENT_TYPES: dict[str, type[EventBase]] = {"verdict": GateVerdictEvent, "crop": GateCropEvent,
                                           "heartbeat": HeartbeatEvent,
                                           "gallery": GalleryAppliedEvent, "config": ConfigEvent,
                                           "update": UpdateEvent,
                                           "door": DoorEvent,
                                           "tailgate": TailgateEvent, "exam.flag": ExamFlagEvent,
                                           "exam.evidence": ExamEvidenceEvent, "exam.session": ExamSessionEvent,
                                           "card": CardEvent}
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: dict
    sig: str


class EnvelopeError(ValueError):
    """A payload that is not an envelope; `reason` is the reject reason ingest counts it under."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_STRUCTURE = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)  # an escape (skipped whole), a quote or a bracket


def too_deep(payload: bytes, limit: int) -> bool:
    """Whether arrays and objects in a JSON text nest deeper than `limit`, found without parsing or recursing.

    Depth never exceeds the number of opening brackets, which C counts fast: an event holds a handful, so the
    scan -- over structural characters only -- runs for the rare payload with many.
    """
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    depth, in_string = 0, False
    for token in _STRUCTURE.finditer(payload):
        mark = token.group()
        if in_string:
            in_string = mark != b'"'  # escapes inside strings were consumed whole by the pattern
        elif mark == b'"':
            in_string = True
        elif mark in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif mark in (b"]", b"}"):
            depth -= 1
    return False


def parse_envelope(payload: bytes) -> tuple[dict, object]:
    """(body, sig) of an MQTT event payload; EnvelopeError(reason) for anything else.

    The size and the nesting are checked before the JSON is parsed: a small payload nested ten thousand
    deep would otherwise exhaust the parser's recursion.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError("too_large")
    if too_deep(payload, MAX_NESTING):
        raise EnvelopeError("too_deep")
    try:
        envelope = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise EnvelopeError("malformed") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("body"), dict):
        raise EnvelopeError("malformed")
    if envelope["body"].get("v") != SCHEMA_VERSION:
        raise EnvelopeError("schema_version")
    return envelope["body"], envelope.get("sig")


def parse_event(body: dict) -> EventBase:
    """Validate an event body (already known to carry a supported `v`)."""
    return _event_adapter.validate_python(body)


def utc_text(value: datetime) -> str:
    """The one text form of a timestamp in storage and queries: UTC, milliseconds, 'Z'.

    One fixed width means text order is time order, so SQLite compares them directly.
    """
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
