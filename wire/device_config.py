"""What a device runs with: its settings as one document, and that document as the gateway sends it.

The same schema is read twice: by the device, from its TOML file or the gateway's document (edge/settings.py adds
the environment on top), and by the gateway, which refuses a document that does not validate before any device
sees it (issue 29). A document is plain JSON: sections as in the TOML file (`[policy]`, `[[cameras]]` ...), what is
left out takes its default.

On the wire (`cmd/config`, retained) a document travels as a `ConfigCommand`: signed by the gateway, numbered per
device, and sealed to the device with its gallery key (AES-GCM, as card details are), because a door's login is in
it: no broker ever holds it readable. A device applies a version only if it is newer than the one it runs; going
back to an earlier document is a new version with that content (`rollback_of` says which), so a replayed old
message is always refused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from models.quality import QualitySettings
from models.settings import ModelSettings
from wire.commands import CommandRefused, open_command, sign_command
from wire.evidence import EvidenceError, open_sealed, seal
from wire.signing import DeviceKey, canonical_json


class Section(BaseModel):
    """A `[section]` of the settings: a key it does not know is an error, not ignored (a misspelt threshold
    would otherwise leave the default running without anyone knowing)."""

    model_config = ConfigDict(extra="forbid")


class CameraSettings(Section):
    """One camera: `[camera]` for a node with one, or each entry of `[[cameras]]`."""

    id: str = Field("cam-1", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    source: str | None = None  # file, rtsp://|http:// URL or USB index; `--source` gives it on the command line
    lane: int = Field(1, ge=1, le=64)  # the lane it watches: its verdicts open that lane's door
    # Which way people granted here go, for a lane without a door of its own to say it (a door's direction wins).
    direction: Literal["in", "out"] | None = None
    # x, y, width, height in the frame's pixels: where people can appear (the motion gate looks only there)
    roi: tuple[int, int, int, int] | None = None
    # The same camera at a lower resolution (file, URL or USB index), with the main stream's aspect and frame rate:
    # the motion gate and the detector look at it, faces are cut from the main stream (edge/vision/camera.py).
    substream: str | None = None
    # FFmpeg decoder threads for a file or stream (0: FFmpeg's choice, one per core). One: a node decodes many
    # cameras at once, and a thread pool per decoder only oversubscribes the cores (-18 % CPU per 720p frame).
    decode_threads: int = Field(1, ge=0, le=16)
    # The rate the camera is set to send. A live camera sending faster is taken at this rate, the frames beyond it
    # skipped and counted (`over_rate`), so it costs the node no more than it declared. None: whatever it sends.
    fps: float | None = Field(None, gt=0, le=120)
    open_timeout_s: float = Field(10.0, gt=0)  # a network camera that does not answer this long cannot be opened
    read_timeout_s: float = Field(5.0, gt=0)  # ... and one that sends nothing this long is lost: reconnected
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    open_retries_file: int = 3  # a file that cannot be opened is retried this often, then given up
    max_consecutive_bad_frames: int = 30  # a file that stops decoding is treated as ended after this
    # Read QR tickets shown to this camera too (a gate with doors only), at most this often a second: beside the
    # face step, on a thread of its own (edge/vision/qr.py). 0: no tickets here.
    qr_fps: float = Field(0.0, ge=0, le=30)
    qr_hold_s: float = Field(3.0, gt=0, le=60)  # a code held up is read once; again once out of view this long


class TrackerSettings(Section):
    detect_every: int = 2  # run the detector on every n-th frame; tracks carry over in between
    # ... but on every n-th of these while a face is being decided (it passed the quality gate, no verdict yet):
    # the person at the gate waits for it
    detect_every_deciding: int = Field(1, ge=1)
    iou_threshold: float = 0.3
    lost_after_s: float = 1.0  # a track unseen this long has left


class PolicySettings(Section):
    # A small JPEG of the face with each `unknown` and `spoof_suspected` verdict, for the operator to tell whom to
    # stop (sent encrypted, kept by the gateway a short while); never with anyone let in. False: no pictures.
    face_crops: bool = True
    identify_threshold: float | None = None  # None: the model pack's measured threshold
    margin: float | None = None  # None: the pack's margin over the runner-up subject
    frames_needed: int = 3  # good frames combined before a verdict
    # Decide before `frames_needed` when the frames so far already match one subject at the pack's
    # `early_threshold` or more (and liveness has its frames): a clear face need not wait. Off for a pack without one.
    early_decision: bool = True
    max_wait_s: float = 3.0  # decide with fewer frames if a person lingers with poor quality
    reverify_interval_s: float = 300.0  # a person still in view is verified again after this
    same_person_threshold: float = 0.55  # a new track this close to a recent one is the same person
    # The same subject granted again this soon is one pass seen twice (a track broken in two); later, it is a
    # new pass (which a door's anti-passback may refuse).
    repeat_window_s: float = Field(10.0, gt=0)


class GateSettings(Section):
    """The door rules (edge/gate/rules.py); the doors themselves are the `[[doors]]` list."""

    anti_passback: bool = True
    passback_s: float = Field(600.0, gt=0)  # granted `in` again this soon, without going out: passback


class LivenessSettings(Section):
    enabled: bool = True
    model: str = "minifasnet"  # a [pad.*] entry of models/manifest.toml
    threshold: float | None = None  # None: the model's own (0.5); a track's mean live score must reach it
    frames: int = Field(2, ge=1)  # live scores fused per decision (each costs ~5 ms on 2 cores)


class ExamSettings(Section):
    """Exam supervision (edge/exam/station.py). Times in seconds."""

    verify_threshold: float | None = None  # None: the pack's 1:1 threshold (not the gate's 1:N one)
    # A session whose candidate is not in the device's gallery yet (enrolled a moment ago) waits this long for the
    # gateway's gallery that holds them, then is refused saying why.
    gallery_wait_s: float = Field(60.0, ge=0)
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


class KioskSettings(Section):
    """A kiosk's chip reader and live capture (edge/kiosk/kiosk.py)."""

    reader: int = Field(0, ge=0)  # which PC/SC reader holds the card
    capture_s: float = Field(20.0, gt=0)  # how long the person has to look at the camera
    capture_frames: int = Field(3, ge=1, le=20)  # good frames combined into the live template
    verify_threshold: float | None = None  # None: the pack's 1:1 threshold
    qr_s: float = Field(20.0, gt=0)  # how long the person has to hold the card's QR code to the camera


class EventSettings(Section):
    outbox: Path | None = None  # None: var/edge/<device>/outbox.db
    gallery: Path | None = None  # the gallery from the gateway, encrypted; None: var/edge/<device>/gallery.enc
    gallery_wait_s: float = 30.0  # with no gallery yet, wait this long for the gateway's before starting
    outbox_capacity: int = Field(200_000, ge=1)  # events kept while the broker is away; see edge/link/outbox.py
    heartbeat_interval_s: float = Field(30.0, gt=0)
    publish_window: int = Field(1000, ge=1)  # events out at once awaiting the gateway's confirmation
    # With nothing confirmed for this long, send the unconfirmed window again (a gateway replica died holding it).
    resend_after_s: float = Field(60.0, gt=0)
    flush_on_exit_s: float = 5.0  # on a clean stop, wait this long for the outbox to drain


class MotionSettings(Section):
    """The motion gate (`[motion]`). On by default: measured, it lets one node keep 20 cameras instead of 12
    (benchmarks/many_cameras.py) and takes a gate camera's CPU per frame to 0.58-0.71x
    (benchmarks/substream.py), and no test or benchmark has found a face it kept from the detector."""

    enabled: bool = True
    width: int = Field(160, ge=32, le=640)  # the downscaled image compared, pixels across
    pixel_threshold: int = Field(15, ge=1, le=255)  # grey levels a small pixel must move by to count
    min_pixels: int = Field(6, ge=1)  # small pixels that must move for the frame to have changed


class DoorSettings(Section):
    """One door output of a device (a lane): which hardware, where, which way people pass, how it fails."""

    lane: int = Field(1, ge=1, le=64)
    kind: Literal["gpio", "serial", "isapi", "webhook", "wiegand"]
    direction: Literal["in", "out"] = "in"  # people granted here go in (anti-passback) or out
    # secure: locked whenever FaceGate is not holding it open (a relay at rest, a stopped process);
    # safe: unlocked whenever FaceGate is not holding it locked (fire exits). Stated in every heartbeat.
    fail_mode: Literal["secure", "safe"] = "secure"
    pulse_ms: int = Field(800, ge=50, le=30_000)  # how long the door stays unlocked
    # gpio / wiegand: the lines, as "<chip>:<offset>" for gpiod (e.g. "/dev/gpiochip0:17") or
    # "numato:<serial port>:<pin>" for a USB GPIO module speaking Numato's text protocol
    line: str | None = None  # gpio: the relay's line
    active_low: bool = False  # gpio: the relay board switches on a low level
    contact: str | None = None  # gpio: a door contact input (high = open), read back for the heartbeat
    data0: str | None = None  # wiegand: DATA0 and DATA1 lines (idle high, pulled low per bit)
    data1: str | None = None
    wiegand_bits: Literal[26, 34] = 26
    cards: Path | None = None  # wiegand: CSV of subject,card_number (the numbers the controller holds)
    # serial: the port (or a pyserial URL), its speed, and the relay's channel on the board
    port: str | None = None
    baudrate: int = 9600
    channel: int = Field(1, ge=1, le=8)
    # isapi / webhook: the controller's address, its login (ISAPI: digest) and the door number
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None  # never shown: a dump or an error prints **********
    door: int = Field(1, ge=1, le=64)
    timeout_s: float = Field(2.0, gt=0, le=30)

    @model_validator(mode="after")
    def _needs_its_address(self) -> DoorSettings:
        needed = {"gpio": ("line",), "wiegand": ("data0", "data1", "cards"), "serial": ("port",),
                  "isapi": ("url",), "webhook": ("url",)}[self.kind]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} door output needs {', '.join(missing)}")
        return self


class DeviceConfig(BaseModel):
    """Everything a device runs with, with defaults that work out of the box."""

    model_config = ConfigDict(extra="forbid")

    models: ModelSettings = Field(default_factory=ModelSettings)
    camera: CameraSettings = Field(default_factory=CameraSettings)
    cameras: list[CameraSettings] = Field(default_factory=list, max_length=64)  # [[cameras]]: several in one process
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
    def _one_door_per_lane(self) -> DeviceConfig:
        lanes = [d.lane for d in self.doors]
        twice = sorted({lane for lane in lanes if lanes.count(lane) > 1})
        if twice:
            raise ValueError(f"[[doors]]: lane {', '.join(map(str, twice))} is configured more than once "
                             f"(one output per lane; a lane's in and out are two lanes)")
        ids = [c.id for c in self.cameras]
        twice_ids = sorted({i for i in ids if ids.count(i) > 1})
        if twice_ids:
            raise ValueError(f"[[cameras]]: id {', '.join(twice_ids)} is used more than once")
        doors = {d.lane: d for d in self.doors}
        for camera in self.cameras or [self.camera]:
            door = doors.get(camera.lane)
            if door and camera.direction and camera.direction != door.direction:
                raise ValueError(f"camera {camera.id} says lane {camera.lane} goes {camera.direction}, "
                                 f"its door says {door.direction}")
        return self


class ConfigInvalid(ValueError):
    """A document that does not validate; the message names each field and what is wrong with it."""


def validate_document(document: object) -> DeviceConfig:
    """`document` as settings; ConfigInvalid saying where and why if it is not a valid one."""
    if not isinstance(document, dict):
        raise ConfigInvalid("a configuration is a JSON object of sections (policy, cameras, doors ...)")
    try:
        return DeviceConfig.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}: {error['msg']}" if where else error["msg"])
        raise ConfigInvalid("; ".join(problems)[:2000]) from None


def changes(old: dict, new: dict, prefix: str = "") -> dict[str, tuple[object, object]]:
    """Each setting that differs between two documents, as "section.key" -> (old, new); a list (cameras, doors)
    counts as one setting. Missing means the default."""
    found = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict | None) and isinstance(b, dict | None) and a != b:  # left out: all defaults
            found.update(changes(a or {}, b or {}, f"{prefix}{key}."))
        elif a != b:
            found[f"{prefix}{key}"] = (a, b)
    return found


MAX_SEALED = 256 * 1024  # a document with 64 cameras and 64 doors is a few tens of kilobytes


class ConfigCommand(BaseModel):
    """One version of a device's configuration (signed by the gateway)."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    device: str
    version: int = Field(ge=1, le=2**31 - 1)
    issued_at: AwareDatetime
    by: Annotated[str, Field(max_length=64)]  # the user who made this version
    rollback_of: int | None = Field(None, ge=1)  # this version's document is that earlier one's
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # SHA-256 of the document's canonical JSON
    nonce: Annotated[str, Field(max_length=64)]
    sealed: Annotated[str, Field(max_length=MAX_SEALED)]


def document_digest(document: dict) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def seal_config(document: dict, device: str, version: int, by: str, issued_at: datetime, gallery_key: str,
                signing_key: DeviceKey, rollback_of: int | None = None) -> bytes:
    """The signed `cmd/config` payload carrying `document` (sealed to `device`) as its `version`."""
    nonce, sealed = seal(gallery_key, device, _record(version), canonical_json(document))
    command = ConfigCommand(device=device, version=version, issued_at=issued_at, by=by, rollback_of=rollback_of,
                            digest=document_digest(document), nonce=nonce, sealed=sealed)
    return sign_command(command, signing_key)


def open_config(payload: bytes, device: str, gateway_key: Ed25519PublicKey,
                gallery_key: str) -> tuple[ConfigCommand, dict]:
    """The command and its document, verified and opened; CommandRefused(malformed | unsigned | bad_signature |
    other_device | unsealed) otherwise. The document is not validated here (`validate_document`)."""
    command = open_command(payload, ConfigCommand, device, gateway_key)
    try:
        document = json.loads(open_sealed(gallery_key, device, _record(command.version), command.nonce,
                                          command.sealed))
    except (EvidenceError, ValueError):
        raise CommandRefused("unsealed", f"version {command.version}") from None
    if not isinstance(document, dict) or document_digest(document) != command.digest:
        raise CommandRefused("unsealed", f"version {command.version} does not match its digest")
    return command, document


def _record(version: int) -> str:
    return f"cmd:config:{version}"
