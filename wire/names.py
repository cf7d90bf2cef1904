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

# A gate's verdict on one person: `passback` is granted by the face, refused by the door's anti-passback rule;
# `no_pass`, `wrong_gate` and `used` are granted by the face, refused by the person's passes (edge/gate/passes.py):
# none valid now, none for this gate, or every entry used. A QR ticket's verdicts are the same, and `forged`: not
# signed with the site's ticket key (wire/tickets.py). `full`: anyone's, on an `in` lane while the site is at its
# capacity (exits stay open).
VerdictKind = Literal["granted", "unknown", "spoof_suspected", "passback", "no_pass", "wrong_gate", "used", "forged",
                      "full"]
VERDICTS: tuple[str, ...] = get_args(VerdictKind)

# Refusals of someone the face recognised: a door never opens on them, an operator sees each.
PASS_REFUSALS: tuple[str, ...] = ("no_pass", "wrong_gate", "used", "forged")

# How a gate knew who was there: their face, or the QR ticket they showed.
Method = Literal["face", "qr"]

# A site's kinds of ticket: one entry on its day; its day; several days; a season (ticket_types.days long).
TicketKind = Literal["single", "day", "days", "season"]
TICKET_KINDS: tuple[str, ...] = get_args(TicketKind)

# What an exam device flags for a supervisor to review (a person decides; a flag never fails anyone alone).
FlagKind = Literal["face_mismatch", "no_face", "multiple_faces", "camera_blocked", "low_quality",
                   "presentation_attack", "technical"]
FLAG_KINDS: tuple[str, ...] = get_args(FlagKind)
