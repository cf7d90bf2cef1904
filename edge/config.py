"""One typed configuration object for an edge node, loaded from TOML and env.

Precedence: defaults < TOML file (`--config FILE`) < environment variables
named FACEGATE_<SECTION>__<KEY> (e.g. FACEGATE_POLICY__FRAMES_NEEDED=5).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.doors.base import DoorSettings
from edge.motion import MotionSettings
from models.quality import QualitySettings
from models.settings import ModelSettings


class CameraSettings(BaseModel):
    id: str = "cam-1"
    lane: int = Field(1, ge=1, le=64)  # the lane it watches: its verdicts open that lane's door
    # x, y, width, height in the frame's pixels: where people can appear (the motion gate looks only there)
    roi: tuple[int, int, int, int] | None = None
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    open_retries_file: int = 3  # a file that cannot be opened is retried this often, then given up
    max_consecutive_bad_frames: int = 30  # a file that stops decoding is treated as ended after this


class TrackerSettings(BaseModel):
    detect_every: int = 2  # run the detector on every n-th frame; tracks carry over in between
    iou_threshold: float = 0.3
    lost_after_s: float = 1.0  # a track unseen this long has left


class PolicySettings(BaseModel):
    identify_threshold: float | None = None  # None: the model pack's measured threshold
    margin: float | None = None  # None: the pack's margin over the runner-up subject
    frames_needed: int = 3  # good frames combined before a verdict
    max_wait_s: float = 3.0  # decide with fewer frames if a person lingers with poor quality
    reverify_interval_s: float = 300.0  # a person still in view is verified again after this
    same_person_threshold: float = 0.55  # a new track this close to a recent one is the same person
    # The same subject granted again this soon is one pass seen twice (a track broken in two); later, it is a
    # new pass (which a door's anti-passback may refuse).
    repeat_window_s: float = Field(10.0, gt=0)


class GateSettings(BaseModel):
    """The door rules (edge/gate.py); the doors themselves are the `[[doors]]` list."""

    anti_passback: bool = True
    passback_s: float = Field(600.0, gt=0)  # granted `in` again this soon, without going out: passback


class LivenessSettings(BaseModel):
    enabled: bool = True
    model: str = "minifasnet"  # a [pad.*] entry of models/manifest.toml
    threshold: float | None = None  # None: the model's own (0.5); a track's mean live score must reach it
    frames: int = Field(2, ge=1)  # live scores fused per decision (each costs ~5 ms on 2 cores)


class ExamSettings(BaseModel):
    """Exam supervision (edge/exam.py). Times in seconds."""

    verify_threshold: float | None = None  # None: the pack's 1:1 threshold (not the gate's 1:N one)
    checkin_frames: int = 3  # good frames combined for the check-in decision
    checkin_attempts: int = 3  # failed decisions before check-in fails
    checkin_timeout_s: float = 30.0
    check_frames: int = 2  # good frames per re-verification
    reverify_interval_s: float = 20.0  # QCVN 105 asks at least every 300 s
    recheck_after_s: float = 2.0  # after a failed check, check again this soon
    mismatch_checks: int = 2  # failed checks in a row before face_mismatch
    no_face_grace_s: float = 10.0
    multiple_faces_s: float = 2.0
    blocked_s: float = 3.0
    low_quality_s: float = 20.0
    clear_s: float = 2.0  # a condition must be gone this long before its flag closes
    min_face_eye_px: float = 12.0  # smaller faces are not people at this desk
    dark_below: float = 25.0  # mean grey of a blocked or unlit camera
    uniform_below: float = 8.0  # grey-level spread of a covered lens
    defocused_below: float = 4.0  # Laplacian variance of a defocused view
    evidence_quality: int = 80  # JPEG quality of evidence
    evidence_keep_days: float = 30.0  # the device's encrypted copies; the gateway keeps its own per retention


class KioskSettings(BaseModel):
    """A kiosk's chip reader and live capture (edge/kiosk.py)."""

    reader: int = Field(0, ge=0)  # which PC/SC reader holds the card
    capture_s: float = Field(20.0, gt=0)  # how long the person has to look at the camera
    capture_frames: int = Field(3, ge=1, le=20)  # good frames combined into the live template
    verify_threshold: float | None = None  # None: the pack's 1:1 threshold


class EventSettings(BaseModel):
    outbox: Path | None = None  # None: var/edge/<device>/outbox.db
    gallery: Path | None = None  # the gallery from the gateway, encrypted; None: var/edge/<device>/gallery.enc
    gallery_wait_s: float = 30.0  # with no gallery yet, wait this long for the gateway's before starting
    outbox_capacity: int = Field(200_000, ge=1)  # events kept while the broker is away; see edge/outbox.py
    heartbeat_interval_s: float = Field(30.0, gt=0)
    publish_window: int = Field(1000, ge=1)  # events out at once awaiting the gateway's confirmation
    # With nothing confirmed for this long, send the unconfirmed window again (a gateway replica died holding it).
    resend_after_s: float = Field(60.0, gt=0)
    flush_on_exit_s: float = 5.0  # on a clean stop, wait this long for the outbox to drain


class EdgeConfig(BaseSettings):
    """Everything an edge node needs to run, with defaults that work out of the box."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", env_nested_delimiter="__", extra="forbid")

    models: ModelSettings = Field(default_factory=ModelSettings)
    camera: CameraSettings = Field(default_factory=CameraSettings)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    events: EventSettings = Field(default_factory=EventSettings)
    liveness: LivenessSettings = Field(default_factory=LivenessSettings)
    exam: ExamSettings = Field(default_factory=ExamSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    doors: list[DoorSettings] = Field(default_factory=list, max_length=64)  # [[doors]]: one per lane

    @model_validator(mode="after")
    def _one_door_per_lane(self) -> EdgeConfig:
        lanes = [d.lane for d in self.doors]
        twice = sorted({lane for lane in lanes if lanes.count(lane) > 1})
        if twice:
            raise ValueError(f"[[doors]]: lane {', '.join(map(str, twice))} is configured more than once "
                             f"(one output per lane; a lane's in and out are two lanes)")
        return self


def load_config(path: Path | None = None) -> EdgeConfig:
    """Defaults, overlaid by the TOML file at `path` (if any), overlaid by env."""
    values = tomllib.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    # BaseSettings gives init values priority over env; we want env to win, so merge env last.
    from_env = EdgeConfig().model_dump(exclude_defaults=True)
    return EdgeConfig(**_deep_merge(values, from_env))


def _deep_merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
