"""Versioned event schemas: what a device says, and what the gateway stores.

On the wire an event travels as an envelope

    {"body": {...one of the events below...}, "sig": "<base64 Ed25519 signature>"}

where the signature covers the canonical serialisation of `body`
(`wire.signing.canonical_json`). `v` is the schema version: a gateway refuses
versions it does not know rather than guessing. New kinds (exam flags, gallery
acknowledgements) join the `Event` union with their own `kind`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from wire.topics import ID_PATTERN

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024

DeviceId = Annotated[str, Field(pattern=ID_PATTERN.pattern)]
# Ids a device chooses (sessions, flags, evidence) end up in URLs and pages: letters, digits, '.', '_', '-' only.
RecordId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]


class EventBase(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    site: DeviceId
    device: DeviceId
    seq: Annotated[int, Field(ge=1)]  # per device, gap-free except for heartbeats dropped from a full outbox
    captured_at: AwareDatetime
    model_pack: str | None = None


class GateVerdictEvent(EventBase):
    """A gate's decision about one person passing."""

    kind: Literal["verdict"] = "verdict"
    camera: str
    track: int
    verdict: Literal["granted", "unknown", "spoof_suspected"]
    subject: str | None  # enrolled subject id; None unless matched
    score: float  # best subject's cosine similarity
    runner_up: float | None
    threshold: float
    margin: float
    quality: float
    frames: int  # good frames combined into the decision
    liveness_enabled: bool = False
    liveness: float | None = None


class HeartbeatEvent(EventBase):
    """A device's periodic health report."""

    kind: Literal["heartbeat"] = "heartbeat"
    fps: float
    stage_ms: dict[str, float]  # mean milliseconds per frame for each pipeline stage
    frames: int
    frames_dropped: int
    outbox_depth: int
    outbox_refused: int  # verdicts refused by a full outbox since start (never silently: also logged)
    gallery_version: str | None
    gallery_size: int
    liveness_enabled: bool
    uptime_s: float
    camera_error: str | None = None


class GalleryAppliedEvent(EventBase):
    """The device now matches against this gallery version (see wire/gallery.py)."""

    kind: Literal["gallery"] = "gallery"
    version: int
    size: int  # subjects in it


class ExamCheck(BaseModel):
    """One 1:1 verification of the candidate during a session."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime
    reason: Literal["checkin", "periodic", "face_returned", "logout"]
    score: float | None  # None: no usable face at the time
    passed: bool
    liveness: float | None = None


class ExamFlagEvent(EventBase):
    """A flag raised (end None) or closed during an exam session; the gateway keeps the latest state by flag id."""

    kind: Literal["exam.flag"] = "exam.flag"
    session: RecordId
    flag: RecordId  # flag id (UUIDv7)
    flag_kind: Literal["face_mismatch", "no_face", "multiple_faces", "camera_blocked", "low_quality",
                       "presentation_attack", "technical"]
    start: AwareDatetime
    end: AwareDatetime | None = None
    confidence: float  # 0..1
    severity: Literal["low", "medium", "high"]
    detail: str = ""
    evidence: list[RecordId] = Field(default_factory=list)  # evidence ids


class ExamEvidenceEvent(EventBase):
    """A small JPEG (face crop or context frame), AES-GCM encrypted for the gateway with the device's key."""

    kind: Literal["exam.evidence"] = "exam.evidence"
    session: RecordId
    evidence: RecordId  # evidence id
    what: Literal["face", "context"]
    reason: RecordId  # "checkin", "logout", or the flag id
    sha256: str  # of the JPEG itself: tampering is detectable
    nonce: str
    ciphertext: str


class ExamSessionEvent(EventBase):
    """An exam session's start (ended_at None) and its signed summary at the end."""

    kind: Literal["exam.session"] = "exam.session"
    session: RecordId
    candidate: DeviceId  # a subject id: same alphabet
    exam_type: str
    stage: str
    seat: str | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    checkin: Literal["pending", "passed", "failed", "presentation_attack", "refused"]
    checkin_score: float | None = None
    checks: list[ExamCheck] = Field(default_factory=list)  # the newest (at most 400)
    checks_total: int = 0
    flags: list[RecordId] = Field(default_factory=list)  # flag ids raised in the session
    evidence: list[RecordId] = Field(default_factory=list)
    reason: str = ""  # why check-in failed or the session could not start


Event = Annotated[Union[GateVerdictEvent, HeartbeatEvent, GalleryAppliedEvent, ExamFlagEvent, ExamEvidenceEvent,
                        ExamSessionEvent], Field(discriminator="kind")]
EVENT_TYPES: dict[str, type[EventBase]] = {"verdict": GateVerdictEvent, "heartbeat": HeartbeatEvent,
                                           "gallery": GalleryAppliedEvent, "exam.flag": ExamFlagEvent,
                                           "exam.evidence": ExamEvidenceEvent, "exam.session": ExamSessionEvent}
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: dict
    sig: str


def parse_event(body: dict) -> EventBase:
    """Validate an event body (already known to carry a supported `v`)."""
    return _event_adapter.validate_python(body)


def utc_text(value: datetime) -> str:
    """The one text form of a timestamp in storage and queries: UTC, milliseconds, 'Z'.

    One fixed width means text order is time order, so SQLite compares them directly.
    """
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
