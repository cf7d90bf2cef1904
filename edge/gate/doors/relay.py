"""What every relay does, whatever drives its coil: pulse it open, and honour the door's fail mode.

A `secure` door is unlocked while the relay is energised: at rest, and whenever FaceGate stops, it is locked.
A `safe` door (a fire exit) is the other way round: FaceGate energises the relay to keep it locked, drops it
for a pulse, and drops it when it stops, so the door is unlocked whenever FaceGate is not holding it. A stop
FaceGate cannot see (power cut, `kill -9`) leaves the coil as it was: wire a safe door's lock so that losing
power opens it (docs/doors.md).
"""

from __future__ import annotations

import threading
import time

from edge.settings import DoorSettings


class Relay:
    """A door behind one relay; subclasses say how to energise the coil (`_energise`)."""

    def __init__(self, settings: DoorSettings):
        self.settings = settings
        self._lock = threading.Lock()  # one pulse at a time on this relay

    def _energise(self, on: bool) -> None:
        raise NotImplementedError

    def _fault_cleanup(self) -> None:
        """Forget the connection after a fault, so the next pulse opens it again."""

    def open(self, subject: str | None = None) -> float:
        self._switch(self.settings.fail_mode != "safe")  # a safe door's coil is dropped to open it
        return time.monotonic()

    def relock(self) -> None:
        self._switch(self.settings.fail_mode == "safe")

    def pulse(self, subject: str | None = None) -> float:
        """`open`, wait `pulse_ms`, `relock`: one opening; the time it switched."""
        switched = self.open(subject)
        time.sleep(self.settings.pulse_ms / 1000)
        self.relock()
        return switched

    hold = relock  # the resting state is the locked one: a safe door's coil energised, a secure one's not

    def _switch(self, energised: bool) -> None:
        with self._lock:
            try:
                self._energise(energised)
            except Exception:
                self._fault_cleanup()
                raise

    def door_state(self) -> str | None:
        return None

    def close(self) -> None:
        with self._lock:
            try:
                self._energise(False)  # secure: stays locked; safe: released, so unlocked
            except Exception:  # noqa: BLE001 -- stopping anyway; an unplugged board is already released
                pass
            self._fault_cleanup()
