"""The names both sides share, defined once: device kinds, consent purposes, verdicts and exam flag kinds.

The event schemas and the device bundle here, the gateway's services, API models and pages' filters, and the
command line's choices all take them from this module, so adding a device kind or a purpose is one change.
Each is a `Literal` type for the models and a tuple of its values for checks and choices.
"""

from __future__ import annotations

from typing import Literal, get_args

DeviceKind = Literal["gate", "exam", "kiosk"]
DEVICE_KINDS: tuple[str, ...] = get_args(DeviceKind)

# What a consent is for: a template enrolled for gate entry is never used for exams (purpose binding).
Purpose = Literal["gate", "exam"]
PURPOSES: tuple[str, ...] = get_args(Purpose)

# A gate's verdict on one person: `passback` is granted by the face, refused by the door's anti-passback rule.
VerdictKind = Literal["granted", "unknown", "spoof_suspected", "passback"]
VERDICTS: tuple[str, ...] = get_args(VerdictKind)

# What an exam device flags for a supervisor to review (a person decides; a flag never fails anyone alone).
FlagKind = Literal["face_mismatch", "no_face", "multiple_faces", "camera_blocked", "low_quality",
                   "presentation_attack", "technical"]
FLAG_KINDS: tuple[str, ...] = get_args(FlagKind)
