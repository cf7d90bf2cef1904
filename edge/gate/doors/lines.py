"""Digital lines (GPIO) for relays, door contacts and Wiegand, named by a string in the door settings:

    /dev/gpiochip0:17        line 17 of a GPIO chip, through `gpiod` (the kernel's character-device API)
    numato:/dev/ttyACM0:3    pin 3 of a USB GPIO module speaking Numato's text protocol over serial
                             ("gpio set 3\\r", "gpio clear 3\\r", "gpio read 3\\r" -> "1")

The second kind serves boxes without a GPIO header, and it is what the tests drive: the kernel here has no
`gpio-sim`, so a pseudo-terminal stands in for the module. Lines on one port share one connection.
"""

from __future__ import annotations

import threading
from typing import Protocol

import serial

from edge.gate.doors.base import DoorFault
from edge.gate.doors.serial_port import SerialPort


class Line(Protocol):
    name: str

    def set(self, high: bool) -> None: ...

    def get(self) -> bool: ...

    def release(self) -> None: ...


def open_line(name: str, output: bool) -> Line:
    """The line `name` (see the module docstring), requested as an output or an input."""
    if name.startswith("numato:"):
        port, _, pin = name[len("numato:"):].rpartition(":")
        if not port or not pin.isdigit():
            raise ValueError(f"line {name!r}: expected numato:<port>:<pin>")
        return NumatoLine(name, NumatoPort.shared(port), int(pin))
    chip, _, offset = name.rpartition(":")
    if not chip or not offset.isdigit():
        raise ValueError(f"line {name!r}: expected <chip>:<offset> (e.g. /dev/gpiochip0:17) or numato:<port>:<pin>")
    return GpiodLine(name, chip, int(offset), output)


class GpiodLine:
    """One line of a GPIO chip through libgpiod v2 (`gpiod` on PyPI)."""

    def __init__(self, name: str, chip: str, offset: int, output: bool):
        import gpiod  # only boxes with a GPIO header need it
        from gpiod.line import Direction, Value

        self.name, self._offset, self._value = name, offset, Value
        direction = Direction.OUTPUT if output else Direction.INPUT
        try:
            self._request = gpiod.request_lines(chip, consumer="facegate",
                                                config={offset: gpiod.LineSettings(direction=direction)})
        except OSError as exc:
            raise DoorFault(f"GPIO {name}: {exc}") from None

    def set(self, high: bool) -> None:
        try:
            self._request.set_value(self._offset, self._value.ACTIVE if high else self._value.INACTIVE)
        except OSError as exc:
            raise DoorFault(f"GPIO {self.name}: {exc}") from None

    def get(self) -> bool:
        try:
            return self._request.get_value(self._offset) == self._value.ACTIVE
        except OSError as exc:
            raise DoorFault(f"GPIO {self.name}: {exc}") from None

    def release(self) -> None:
        self._request.release()


class NumatoPort:
    """One serial connection to a Numato-protocol GPIO module, shared by its lines; reopened after a fault."""

    _open: dict[str, NumatoPort] = {}
    _registry_lock = threading.Lock()

    def __init__(self, port: str):
        self.port = port
        self.lock = threading.Lock()
        self._serial = SerialPort(port, 19200, 0.5)
        self.users = 0

    @classmethod
    def shared(cls, port: str) -> NumatoPort:
        with cls._registry_lock:
            found = cls._open.setdefault(port, cls(port))
            found.users += 1
            return found

    def command(self, text: str, answer: bool = False) -> str:
        """Send one command; with `answer`, the line the module prints after echoing it."""
        with self.lock:
            try:
                port = self._serial.get()
                port.reset_input_buffer()
                port.write(text.encode("ascii") + b"\r")
                port.flush()
                if not answer:
                    return ""
                mine = text.encode("ascii") + b"\r"
                echo = port.read_until(mine)  # the module echoes each command, then answers, then ">"
                reply = port.read_until(b">")
                if not echo.endswith(mine) or not reply.endswith(b">"):
                    raise DoorFault(f"GPIO module on {self.port} did not answer {text!r}")
                return reply[:-1].strip().decode("ascii", "replace")
            except (serial.SerialException, OSError) as exc:
                self._serial.drop()
                raise DoorFault(f"GPIO module on {self.port}: {exc}") from None

    def release(self) -> None:
        with self._registry_lock:
            self.users -= 1
            if self.users <= 0:
                self._open.pop(self.port, None)
                with self.lock:
                    self._serial.drop()


class NumatoLine:
    def __init__(self, name: str, port: NumatoPort, pin: int):
        self.name, self._port, self._pin = name, port, pin

    def set(self, high: bool) -> None:
        self._port.command(f"gpio {'set' if high else 'clear'} {self._pin}")

    def get(self) -> bool:
        reply = self._port.command(f"gpio read {self._pin}", answer=True)
        if reply not in ("0", "1"):
            raise DoorFault(f"GPIO module on {self._port.port} answered {reply[:40]!r} to a read")
        return reply == "1"

    def release(self) -> None:
        self._port.release()
