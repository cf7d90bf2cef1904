"""A serial port opened on first use and again after a fault, so a board unplugged and plugged back in works
again; shared by the USB relay boards and the USB GPIO modules."""

from __future__ import annotations

import serial


class SerialPort:
    def __init__(self, url: str, baudrate: int, timeout_s: float):
        self.url, self.baudrate, self.timeout_s = url, baudrate, timeout_s
        self._port: serial.SerialBase | None = None

    def get(self) -> serial.SerialBase:
        """The open port (a device path or any pyserial URL); serial.SerialException if it cannot be opened."""
        if self._port is None:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout_s,
                                               write_timeout=self.timeout_s)
        return self._port

    def drop(self) -> None:
        """Close it (quietly: after a fault it may be gone already); the next `get` opens it again."""
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None
