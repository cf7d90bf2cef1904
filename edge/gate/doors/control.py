"""A device's doors at work: one worker thread per lane, so a slow controller never holds up the camera loop.

Guarantees:
- an opening requested while the lane's door is already opening (two verdicts for one lane at once, a grant
  and an operator's command) joins that opening: one pulse, and every operator who asked is told it opened;
- a failed opening is tried again with backoff (`retry_delays_s`), then reported as `failed`, and the lane
  shows `fault` in the heartbeat until an opening works again;
- every opening and failure is reported (`DoorReport`, which the device signs as a `door` event), with the
  time from the request (the verdict, the command's arrival) to the output switching;
- the door contact, where the hardware has one, is read between openings, never in the camera's loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.gate.doors import open_output
from edge.gate.doors.base import DoorFault, DoorOutput
from edge.settings import DoorSettings
from wire.redact import redact

log = logging.getLogger(__name__)

STATE_POLL_S = 5.0


@dataclass
class OpenRequest:
    cause: str  # "grant" | "operator"
    at: float = field(default_factory=time.monotonic)  # when it was decided or arrived
    subject: str | None = None
    track: int | None = None  # the granted person's track
    command: str | None = None
    operator: str | None = None
    reason: str | None = None


@dataclass
class DoorReport:
    lane: int
    outcome: str  # "opened" | "failed"
    request: OpenRequest
    latency_ms: float | None
    attempts: int
    error: str | None = None


class LaneDoor:
    """One lane's output and its worker."""

    def __init__(self, settings: DoorSettings, output: DoorOutput | None, error: str | None):
        self.settings = settings
        self.output = output
        self.state = "fault" if error else "ok"
        self.error = error
        self.door: str | None = None
        self.opened = 0
        self.pending: list[OpenRequest] = []
        self.opening: list[OpenRequest] | None = None
        self.wake = threading.Condition()
        self.thread: threading.Thread | None = None

    def status(self) -> dict:
        s = self.settings
        return {"lane": s.lane, "kind": s.kind, "direction": s.direction, "fail_mode": s.fail_mode,
                "state": self.state, "door": self.door, "error": (self.error or "")[:1000] or None,
                "opened": self.opened}


class DoorControl:
    def __init__(self, doors: list[DoorSettings], report: Callable[[DoorReport], None] = lambda report: None,
                 outputs: dict[int, DoorOutput] | None = None, retry_delays_s: tuple[float, ...] = (0.2, 0.5)):
        """`doors` one per lane (EdgeConfig checks); `outputs` replaces the hardware they name (tests, benchmarks)."""
        self.report = report
        self.retry_delays_s = retry_delays_s
        self._stopping = threading.Event()
        self.lanes: dict[int, LaneDoor] = {}
        for settings in doors:
            output, error = (outputs or {}).get(settings.lane), None
            if output is None:
                try:
                    output = open_output(settings)
                except (DoorFault, OSError, ValueError, ImportError) as exc:
                    error = redact(f"cannot open the {settings.kind} output: {exc}")
                    log.error("lane %d: %s", settings.lane, error)
            self.lanes[settings.lane] = LaneDoor(settings, output, error)

    def start(self) -> DoorControl:
        for lane in self.lanes.values():
            lane.thread = threading.Thread(target=self._work, args=(lane,), name=f"door-{lane.settings.lane}",
                                           daemon=True)
            lane.thread.start()
        return self

    def request(self, lane: int, request: OpenRequest) -> bool:
        """Ask lane `lane` to open once; False if no door is configured there."""
        door = self.lanes.get(lane)
        if door is None:
            return False
        with door.wake:
            if door.opening is not None:
                door.opening.append(request)  # the door is opening right now: this joins it
            else:
                door.pending.append(request)
            door.wake.notify()
        return True

    def status(self) -> list[dict]:
        """Each door as the heartbeat states it (wire.events.DoorStatus fields)."""
        return [d.status() for d in self.lanes.values()]

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish what is under way and release every output as its fail mode says."""
        self._stopping.set()
        for door in self.lanes.values():
            with door.wake:
                door.wake.notify()
        for door in self.lanes.values():
            if door.thread:
                door.thread.join(timeout_s)
            if door.output:
                door.output.close()

    def _work(self, door: LaneDoor) -> None:
        if door.output and door.state == "ok":
            try:
                door.output.hold()
            except DoorFault as exc:
                self._fault(door, str(exc))
        next_poll = 0.0
        while not self._stopping.is_set():
            with door.wake:
                if not door.pending:
                    door.wake.wait(timeout=max(0.05, next_poll - time.monotonic()))
                batch, door.pending = door.pending, []
                if batch:
                    door.opening = list(batch)  # requests arriving from now on join this opening
            if batch:
                self._open(door, batch)
            elif time.monotonic() >= next_poll and door.output:
                next_poll = time.monotonic() + STATE_POLL_S
                try:
                    door.door = door.output.door_state()
                except DoorFault as exc:  # a contact that cannot be read says nothing about the door
                    door.door = None
                    log.warning("lane %d: door contact unreadable: %s", door.settings.lane, exc)

    def _open(self, door: LaneDoor, batch: list[OpenRequest]) -> None:
        first = batch[0]
        switched, attempts, error = None, 0, None
        for delay in (0.0, *self.retry_delays_s):
            if delay:
                time.sleep(delay)
            attempts += 1
            try:
                if door.output is None:
                    raise DoorFault(door.error or "no output")
                switched = door.output.open(first.subject)
                break
            except Exception as exc:  # noqa: BLE001 -- whatever the hardware raised, the lane's worker lives on
                error = str(exc) if isinstance(exc, DoorFault) else f"{exc.__class__.__name__}: {exc}"
                log.warning("lane %d: opening failed (attempt %d): %s", door.settings.lane, attempts, error)
        if switched is None:
            with door.wake:
                batch, door.opening = door.opening, None
            self._fault(door, error)
            for request in _to_report(batch):
                self.report(DoorReport(door.settings.lane, "failed", request, None, attempts, error))
            return
        door.opened += 1
        door.state, door.error = "ok", None
        self.report(DoorReport(door.settings.lane, "opened", first, 1000 * (switched - first.at), attempts))
        time.sleep(door.settings.pulse_ms / 1000)
        with door.wake:
            joined, door.opening = door.opening[len(batch):], None
        batch = batch + joined
        for request in _to_report(batch[1:], skip_grants=first.cause == "grant"):
            self.report(DoorReport(door.settings.lane, "opened", request, 1000 * max(0.0, switched - request.at),
                                   0))
        try:
            door.output.relock()
        except Exception as exc:  # noqa: BLE001 -- as above
            self._fault(door, f"could not lock again: {exc}")
            self.report(DoorReport(door.settings.lane, "failed", first, None, attempts, door.error))

    def _fault(self, door: LaneDoor, error: str | None) -> None:
        door.state, door.error = "fault", error
        log.error("lane %d door fault: %s", door.settings.lane, error)


def _to_report(requests: list[OpenRequest], skip_grants: bool = False) -> list[OpenRequest]:
    """Operators each hear what became of their command; of grants, only the first speaks for the opening."""
    reported, grant_seen = [], skip_grants
    for request in requests:
        if request.cause == "operator" or not grant_seen:
            reported.append(request)
            grant_seen = grant_seen or request.cause == "grant"
    return reported
