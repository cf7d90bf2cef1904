"""A USB/serial relay board (the common CH340 "LC" boards): four bytes switch one relay.

    A0 <channel> <01 on | 00 off> <checksum = sum of the first three, mod 256>

A pulse is "on", the pulse length, "off". The board answers nothing, so a
fault is what the port says: missing (unplugged), or a write that fails.
"""

from __future__ import annotations

import threading
import time

import serial

from edge.doors.base import DoorFault, DoorSettings

START = 0xA0


def relay_command(channel: int, on: bool) -> bytes:
    """The four bytes that switch relay `channel` on or off."""
    body = [START, channel, 1 if on else 0]
    return bytes(body + [sum(body) & 0xFF])


class SerialRelay:
    def __init__(self, settings: DoorSettings):
        if not settings.port:
            raise ValueError("a serial door output needs `port` (e.g. /dev/ttyUSB0)")
        self.settings = settings
        self._port: serial.SerialBase | None = None
        self._lock = threading.Lock()  # two grants at once: one pulse at a time on the board

    def pulse(self) -> None:
        with self._lock:
            try:
                port = self._open()
                port.write(relay_command(self.settings.channel, True))
                port.flush()
                time.sleep(self.settings.pulse_ms / 1000)
                port.write(relay_command(self.settings.channel, False))
                port.flush()
            except (serial.SerialException, OSError) as exc:
                self._drop()
                raise DoorFault(f"relay board on {self.settings.port}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _open(self) -> serial.SerialBase:
        # Opened on first use and again after a fault: a board unplugged and plugged back in works again.
        if self._port is None:
            self._port = serial.serial_for_url(self.settings.port, baudrate=self.settings.baudrate, timeout=1,
                                               write_timeout=1)
        return self._port

    def _drop(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None
