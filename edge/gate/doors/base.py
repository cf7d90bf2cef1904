"""What every door output is: its settings, its actions, and the fault it raises."""

from __future__ import annotations

from typing import Protocol

from edge.settings import DoorSettings
from wire.redact import redact


class DoorFault(Exception):
    """The output could not be driven: unplugged, refused, no answer. The message says which -- with any URL's
    secrets masked, since it reaches heartbeats, `door` events and the live page."""

    def __init__(self, message: str):
        super().__init__(redact(message))


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
