"""Door outputs: what opens a door or a turnstile when the gate grants, one small class per kind of hardware.

    output = open_output(DoorSettings(kind="serial", port="/dev/ttyUSB0", channel=1))
    output.pulse()            # unlock for `pulse_ms`, then lock again; DoorFault if the hardware did not take it

Kinds: `gpio` (a relay on a GPIO line, optionally with a door contact) and `wiegand` (a card number to a
controller) in gpio_door.py, over lines.py; `serial` (a USB/serial relay board, serial_relay.py); `isapi` (a
Hikvision controller's remote door control) and `webhook` (any HTTP controller), both in http_door.py. A fault
is never silent: `pulse()` raises DoorFault, saying which output and why. control.py runs them for a device:
one worker per lane, retries, events.
"""

from __future__ import annotations

from edge.gate.doors.base import DoorFault, DoorOutput
from edge.settings import DoorSettings

__all__ = ["DoorFault", "DoorOutput", "open_output"]


def open_output(settings: DoorSettings) -> DoorOutput:
    """The output class for `settings.kind`, ready to pulse."""
    if settings.kind == "serial":
        from edge.gate.doors.serial_relay import SerialRelay
        return SerialRelay(settings)
    if settings.kind == "gpio":
        from edge.gate.doors.gpio_door import GpioRelay
        return GpioRelay(settings)
    if settings.kind == "wiegand":
        from edge.gate.doors.gpio_door import WiegandOutput
        return WiegandOutput(settings)
    from edge.gate.doors.http_door import HttpDoor
    return HttpDoor(settings)
