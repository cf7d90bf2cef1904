"""The gate: between the policy's verdicts and the doors, the rules of who may pass, and the doors themselves.

Rules (`GateRules`, in stream time, so the same stream always gives the same answers, passes aside):
- someone the face recognised comes in only on a pass valid here and now, if they hold passes at the site, and
  a QR ticket shown only if it is one (edge/gate/passes.py: by the device's clock; refused as `no_pass`,
  `wrong_gate`, `used` or `forged`); nobody comes in while the site is full (`full`), exits stay open;
- a lane's door opens only on `granted` with liveness passed, or with liveness explicitly off for the site;
  never on `unknown`, `spoof_suspected` or `passback`;
- anti-passback: someone granted on an `in` lane is not let in again (verdict `passback`) until they are
  granted on an `out` lane or `passback_s` has passed;
- tailgating: someone who leaves the view while a lane's door stands open for another person, with no grant
  of their own, is reported (`Tailgate`) with the most faces seen in one frame while it stood open. No
  picture is taken.

`Gate` puts the rules to work for a device: it asks the doors (edge/gate/doors/control.py) to open, and signs
what happened (door, tailgate) into the outbox. An operator's signed `cmd/door` opens a lane through it too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from edge.settings import EdgeConfig, GateSettings
from edge.settings import DoorSettings
from edge.gate.doors.control import DoorControl, DoorReport, OpenRequest
from edge.gate.passes import Admissions
from edge.link.events import DeviceEvents
from edge.vision.pipeline import FrameReport
from edge.vision.policy import Verdict
from wire.commands import CommandRefused, FreshCommands
from wire.tickets import TicketError, open_ticket_list
from wire.events import DoorEvent, TailgateEvent

log = logging.getLogger(__name__)


@dataclass
class Opening:
    lane: int
    track: int
    subject: str | None
    at: float  # stream time the door was asked to open
    until: float  # and when it closes again
    faces: int = 0  # the most faces in one frame while it stood open
    followers: set[int] | None = None  # tracks already reported as tailgaters
    ticket_holder: int | None = None  # for a QR ticket's opening: the first face through, not a follower (-1: none yet)


@dataclass
class Tailgate:
    lane: int
    track: int
    after_track: int
    after_subject: str | None
    boxes: int
    at: float


class GateRules:
    def __init__(self, settings: GateSettings, doors: list[DoorSettings], liveness_off: bool,
                 admissions: Admissions | None = None):
        self.settings = settings
        self.doors = {d.lane: d for d in doors}
        self.liveness_off = liveness_off  # said out loud by the site's configuration
        self.admissions = admissions or Admissions(None)  # the gallery's passes (none: consent alone admits)
        self._inside: dict[str, float] = {}  # subject -> stream time they were let in
        self._open: list[Opening] = []

    def decide(self, verdict: Verdict, lane: int) -> tuple[Verdict, bool]:
        """The verdict as it stands for this lane (maybe refused by a pass, or `passback`), and whether the lane's
        door opens."""
        door = self.doors.get(lane)
        if verdict.verdict != "granted":
            return verdict, False
        entering = door is None or door.direction == "in"  # a lane without a door is watched for who comes in
        if verdict.method == "qr":  # a ticket is checked going out too: a forged one opens nothing
            refusal, ticket = self.admissions.check_ticket(verdict.ticket or "")
            verdict = replace(verdict, pass_id=ticket.pass_id if ticket else None, ticket=None)
            if refusal == "forged" or (refusal and entering):  # going out on an expired ticket is fine
                return replace(verdict, verdict=refusal), False
        elif entering:
            refusal, pass_id = self.admissions.check(verdict.subject)
            verdict = replace(verdict, verdict=refusal or verdict.verdict, pass_id=pass_id)
            if refusal:
                return verdict, False
        if entering and self.admissions.tickets.full:  # the site is at its capacity: nobody more, until one leaves
            return replace(verdict, verdict="full"), False
        if door is None:
            return verdict, False
        if verdict.method == "face" and not (verdict.liveness_enabled or self.liveness_off):
            return verdict, False  # liveness was meant to run and did not: never open on that
        who = verdict.subject or f"pass:{verdict.pass_id}"  # a ticket's holder is known by the ticket
        if self.settings.anti_passback and door.direction == "in":
            # Who went in longer ago than passback_s may come in again: forgotten, so a long run keeps no list.
            horizon = verdict.timestamp - self.settings.passback_s
            self._inside = {s: at for s, at in self._inside.items() if at > horizon}
            entered = self._inside.get(who)
            if entered is not None and verdict.timestamp - entered < self.settings.passback_s:
                return replace(verdict, verdict="passback"), False
            self._inside[who] = verdict.timestamp
        elif door.direction == "out":
            self._inside.pop(who, None)
        if entering:
            self.admissions.entered(verdict.pass_id)
        self._open.append(Opening(lane, verdict.track, verdict.subject, verdict.timestamp,
                                  verdict.timestamp + door.pulse_ms / 1000, followers=set(),
                                  ticket_holder=-1 if verdict.method == "qr" else None))
        return verdict, True

    def observe(self, report: FrameReport, lane: int) -> list[Tailgate]:
        """One frame's faces and departures, from the camera watching `lane` (only that lane's openings count);
        the tailgaters it revealed."""
        if not self._open:  # nearly every frame: no door stands open
            return []
        found = []
        for opening in self._open:
            if opening.lane != lane:
                continue
            if opening.at <= report.timestamp <= opening.until:
                opening.faces = max(opening.faces, report.faces)
            for track in report.ended:
                crossed = opening.at <= track.last_seen <= opening.until
                if crossed and opening.ticket_holder == -1 and track.outcome != "granted":
                    opening.ticket_holder = track.id  # the ticket's holder: their face is not in the gallery
                    continue
                if crossed and track.id != opening.track and track.outcome != "granted" \
                        and track.id not in opening.followers and track.id != opening.ticket_holder:
                    opening.followers.add(track.id)
                    found.append(Tailgate(opening.lane, track.id, opening.track, opening.subject,
                                          opening.faces, report.timestamp))
        # A person is reported as gone a while after last seen (the tracker's lost_after_s): keep a margin.
        self._open = [o for o in self._open if o.lane != lane or report.timestamp - o.until < 10.0]
        return found


class Gate:
    """The rules and the doors of one device, reporting through its signed events."""

    @classmethod
    def open(cls, config: EdgeConfig, events: DeviceEvents | None, device: str | None = None,
             gateway_key: str | None = None, outputs: dict | None = None, entries_path: Path | None = None) -> Gate:
        """The gate of `config` (its `[[doors]]`, `[gate]` rules, camera lane), doors started; `gateway_key`
        verifies operators' commands and the ticket list (none: every command is refused, every ticket too);
        `entries_path`: where entries made on passes are kept (None: in memory)."""
        rules = GateRules(config.gate, config.doors, liveness_off=not config.liveness.enabled,
                          admissions=Admissions(device, entries_path=entries_path))
        doors = DoorControl(config.doors, outputs=outputs)  # reporting to the gate (below)
        commands = FreshCommands(device, gateway_key) if device and gateway_key else None
        gate = cls(rules, doors, events, commands, device, gateway_key)
        doors.start()
        return gate

    def __init__(self, rules: GateRules, doors: DoorControl, events: DeviceEvents | None,
                 commands: FreshCommands | None = None, device: str | None = None, gateway_key: str | None = None):
        self.rules, self.doors, self.events = rules, doors, events
        self.commands = commands
        self.device, self.gateway_key = device, gateway_key
        self.commands_refused = 0
        self.reports: list[DoorReport] = []  # what the doors did, newest last (also signed into events)
        doors.report = self._reported

    def direction_of(self, lane: int) -> str | None:
        """Which way the lane's door lets people go; None for a lane without a door."""
        door = self.rules.doors.get(lane)
        return door.direction if door else None

    def verdict(self, verdict: Verdict, lane: int) -> Verdict:
        """Apply the rules of `lane` (the lane of the camera that saw it) to a verdict; opens the door if they say
        so. Returns the verdict as it stands."""
        verdict, opens = self.rules.decide(verdict, lane)
        if opens:
            self.doors.request(lane, OpenRequest("grant", subject=verdict.subject, track=verdict.track))
        return verdict

    def frame(self, report: FrameReport, lane: int, camera: str) -> None:
        """One frame of `camera`, which watches `lane`."""
        for t in self.rules.observe(report, lane):
            log.warning("tailgate on lane %d: track %d followed track %d (%s)", t.lane, t.track, t.after_track,
                        t.after_subject or "-")
            if self.events:
                self.events.append(TailgateEvent, lane=t.lane, camera=camera, track=t.track,
                                   after_track=t.after_track, after_subject=t.after_subject, boxes=t.boxes)

    def command(self, payload: bytes) -> None:
        """A `cmd/door` payload from the broker: open the lane once if it is genuine, else count it."""
        try:
            if self.commands is None:
                raise CommandRefused("no_gateway_key")
            command = self.commands.open(payload)
        except CommandRefused as refused:
            self.commands_refused += 1
            log.error("door command refused (%s); %d refused since start", refused, self.commands_refused)
            return
        # Quoted (repr): an operator's words with a line break in them cannot forge a line of this log.
        log.info("door command %s: open lane %d for %r (%r)", command.id, command.lane, command.by, command.reason)
        request = OpenRequest("operator", command=command.id, operator=command.by, reason=command.reason)
        if not self.doors.request(command.lane, request):
            self._reported(DoorReport(command.lane, "failed", request, None, 0, "no door on this lane"))

    def tickets(self, payload: bytes) -> None:
        """A `cmd/tickets` payload from the broker: the site's ticket key, spent and cancelled tickets."""
        try:
            if not (self.device and self.gateway_key):
                raise TicketError("forged", "no gateway key to check it with")
            tickets = open_ticket_list(payload, self.device, self.gateway_key)
        except TicketError as refused:
            log.error("ticket list refused: %s", refused)
            return
        self.rules.admissions.use_tickets(tickets)
        log.info("ticket list of %s: %d spent, %d cancelled", tickets.issued_at, len(tickets.spent),
                 len(tickets.cancelled))

    def stop(self) -> None:
        """Finish openings under way; every door left as its fail mode says."""
        self.doors.stop()
        self.rules.admissions.close()

    def status(self) -> dict:
        """For the heartbeat: each door, and how many commands were refused."""
        return {"doors": self.doors.status(), "door_commands_refused": self.commands_refused}

    def _reported(self, report: DoorReport) -> None:
        self.reports.append(report)
        del self.reports[:-100]
        if self.events is None:
            return
        r = report.request
        self.events.append(DoorEvent, lane=report.lane, outcome=report.outcome, cause=r.cause, subject=r.subject,
                           track=r.track, command=r.command, operator=r.operator, reason=r.reason,
                           latency_ms=None if report.latency_ms is None else round(report.latency_ms, 1),
                           attempts=report.attempts, error=(report.error or "")[:1000] or None)
