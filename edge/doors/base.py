"""What every door output is: its settings, its one action, and the fault it raises."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field


class DoorFault(Exception):
    """The output could not be driven: unplugged, refused, no answer. The message says which."""


class DoorSettings(BaseModel):
    """One door output of a device (a lane): which hardware, where, and how long a pulse lasts."""

    lane: int = Field(1, ge=1, le=64)
    kind: Literal["serial", "isapi", "webhook"]
    pulse_ms: int = Field(800, ge=50, le=30_000)  # how long the door stays unlocked
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


class DoorOutput(Protocol):
    settings: DoorSettings

    def pulse(self) -> None:
        """Unlock for `settings.pulse_ms`, then lock; DoorFault if the hardware did not take it."""
        ...

    def close(self) -> None:
        ...
