"""What every door output is: its settings, its actions, and the fault it raises."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field, model_validator


class DoorFault(Exception):
    """The output could not be driven: unplugged, refused, no answer. The message says which."""


class DoorSettings(BaseModel):
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
    password: str | None = None
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


class DoorOutput(Protocol):
    """One door's hardware. `open` and `relock` are called from one thread at a time (the lane's worker)."""

    settings: DoorSettings

    def open(self, subject: str | None = None) -> float:
        """Unlock (or hand the controller its "open"); the monotonic time the output switched.

        DoorFault if the hardware did not take it. `subject` is who the door opens for (Wiegand sends their
        card number; other kinds ignore it)."""
        ...

    def relock(self) -> None:
        """Lock again after `pulse_ms` (a relay); nothing where the controller times the opening itself."""
        ...

    def hold(self) -> None:
        """Take up the resting state the fail mode asks for while FaceGate runs (a safe door: held locked)."""
        ...

    def door_state(self) -> str | None:
        """"open" or "closed" from a door contact or the controller; None where the hardware cannot tell."""
        ...

    def close(self) -> None:
        """Stop driving the output and leave the door as its fail mode says."""
        ...
