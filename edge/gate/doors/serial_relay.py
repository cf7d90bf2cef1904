"""A USB/serial relay board (the common CH340 "LC" boards): four bytes switch one relay.

    A0 <channel> <01 on | 00 off> <checksum = sum of the first three, mod 256>

The board answers nothing, so a fault is what the port says: missing
(unplugged), or a write that fails.
"""

from __future__ import annotations

import serial

from edge.gate.doors.base import DoorFault

from edge.settings import DoorSettings
from edge.gate.doors.relay import Relay
from edge.gate.doors.serial_port import SerialPort

START = 0xA0


def relay_command(channel: int, on: bool) -> bytes:
    """The four bytes that switch relay `channel` on or off."""
    body = [START, channel, 1 if on else 0]
    return bytes(body + [sum(body) & 0xFF])


class SerialRelay(Relay):
    def __init__(self, settings: DoorSettings):
        super().__init__(settings)
        self._port = SerialPort(settings.port, settings.baudrate, 1.0)

    def _energise(self, on: bool) -> None:
        try:
            port = self._port.get()
            port.write(relay_command(self.settings.channel, on))
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DoorFault(f"relay board on {self.settings.port}: {exc}") from None

    def _fault_cleanup(self) -> None:
        self._port.drop()
