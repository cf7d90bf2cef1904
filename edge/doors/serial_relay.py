"""A USB/serial relay board (the common CH340 "LC" boards): four bytes switch one relay.

    A0 <channel> <01 on | 00 off> <checksum = sum of the first three, mod 256>

The board answers nothing, so a fault is what the port says: missing
(unplugged), or a write that fails.
"""

from __future__ import annotations

import serial

from edge.doors.base import DoorFault, DoorSettings
from edge.doors.relay import Relay

START = 0xA0


def relay_command(channel: int, on: bool) -> bytes:
    """The four bytes that switch relay `channel` on or off."""
    body = [START, channel, 1 if on else 0]
    return bytes(body + [sum(body) & 0xFF])


class SerialRelay(Relay):
    def __init__(self, settings: DoorSettings):
        super().__init__(settings)
        self._port: serial.SerialBase | None = None

    def _energise(self, on: bool) -> None:
        try:
            # Opened on first use and again after a fault: a board unplugged and plugged back in works again.
            if self._port is None:
                self._port = serial.serial_for_url(self.settings.port, baudrate=self.settings.baudrate, timeout=1,
                                                   write_timeout=1)
            self._port.write(relay_command(self.settings.channel, on))
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DoorFault(f"relay board on {self.settings.port}: {exc}") from None

    def _fault_cleanup(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None
