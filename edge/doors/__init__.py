"""Door outputs: what opens a door or a turnstile when the gate grants, one small class per kind of hardware.

    output = open_output(DoorSettings(kind="serial", port="/dev/ttyUSB0", channel=1))
    output.pulse()            # unlock for `pulse_ms`, then lock again; DoorFault if the hardware did not take it

Kinds: `serial` (a USB/serial relay board, serial_relay.py), `isapi` (a
Hikvision controller's remote door control), `webhook` (any HTTP controller;
both in http_door.py). A fault is never silent: `pulse()` raises DoorFault,
saying which output and why, for the caller to report.
"""

from __future__ import annotations

from edge.doors.base import DoorFault, DoorOutput, DoorSettings
from edge.doors.http_door import HttpDoor
from edge.doors.serial_relay import SerialRelay

__all__ = ["DoorFault", "DoorOutput", "DoorSettings", "HttpDoor", "SerialRelay", "open_output"]


def open_output(settings: DoorSettings) -> DoorOutput:
    """The output class for `settings.kind`, ready to pulse."""
    return SerialRelay(settings) if settings.kind == "serial" else HttpDoor(settings)
