"""The exam day's schedule (issue 27): a session for each listed candidate, on a seat device of their room, at
their slot.

`schedule_day` seats a day's candidates from the list: in each room and slot, by candidate number, on the room's
exam devices in seat order (`Device.room`, `Device.seat`, set on the admin page). It writes nothing unless every
candidate finds a seat, and a second run seats only those without a session (new on a re-imported list, or whose
session was cancelled). `move` changes one candidate's seat, device or slot by hand. Both are audited.

A scheduled session waits at the gateway: it goes to its device (`push`) once its candidate has checked in at the
door, because only then does the device's gallery hold the face to check against. Rules kept here, not in SQL:
one session not yet ended per candidate, one per device and slot, and at most one sent to a device and not yet
ended (the device's command is retained: a second would replace the first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from gateway.errors import Conflict, Invalid, NotFound, Unavailable
from gateway.services.events.local_time import local_day
from gateway.services.exams.sessions import ABSENT, Publish, has_run
from gateway.storage import Device, ExamCandidate, ExamSession, Store, Tx
from wire import DeviceKey, uuid7
from wire.commands import SESSION, SessionCommand, sign_command
from wire.events import utc_text
from wire.topics import cmd_topic

COMPUTER_PARTS = ("theory", "simulation")  # the parts sat at a seat device; track and road are outside


@dataclass(frozen=True)
class Scheduled:
    """What a run of `schedule_day` did: sessions made now, candidates that had one already."""

    scheduled: int
    already: int


def seat_order(seat: str | None) -> tuple:
    """Seats as people count them: "2" before "10", "A2" before "A10"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", seat or ""))


def slot_start(zone: str, day: str, slot: str) -> str:
    """The slot's start ("HH:MM" on the centre's clock, on `day`) as stored UTC text."""
    local = datetime.combine(date.fromisoformat(day), time.fromisoformat(slot), ZoneInfo(zone))
    return utc_text(local.astimezone(timezone.utc))


def room_seats(store: Store, site: str) -> dict[str, list[Device]]:
    """The centre's active exam devices that have a place, by room, in seat order."""
    rooms: dict[str, list[Device]] = {}
    for device in store.devices.all(site):
        if device.kind == "exam" and device.active and device.room and device.seat:
            rooms.setdefault(device.room, []).append(device)
    return {room: sorted(devices, key=lambda d: seat_order(d.seat)) for room, devices in rooms.items()}


def _part(candidate: ExamCandidate) -> str:
    return next((p for p in candidate.parts if p in COMPUTER_PARTS), candidate.parts[0])


def _live(session: ExamSession | None) -> bool:
    """Whether a session still holds its seat: not cancelled, not ended, no verdict."""
    return session is not None and not session.ended_at and not session.verdict


def schedule_day(store: Store, site: str, day: str, user: str, zone: str, room: str | None = None) -> Scheduled:
    """Seat every candidate of `site`'s list on `day` (YYYY-MM-DD) -- in `room`, or every room -- who has no live
    session yet. Invalid, with nothing written, when the day has no list, a room has no placed devices, or a room's
    slot has more candidates than free seats (the first named, the others counted). Audited
    (`exam.day_scheduled`)."""
    candidates = [c for c in store.candidates.day(site, day) if room is None or c.room == room]
    if not candidates:
        raise Invalid("no candidate list for {site} on {day}: import it first", site=site, day=day)
    seats = room_seats(store, site)
    with store.db.transaction() as tx:
        sessions = {s.id: s for s in store.exams.sessions(site, *_day_range(zone, day))}
        taken: dict[tuple[str, str], set[str]] = {}  # (room, slot start) -> devices with a live session
        for s in sessions.values():
            if _live(s) and s.room:
                taken.setdefault((s.room, s.started_at), set()).add(s.device)
        waiting: dict[tuple[str, str], list[ExamCandidate]] = {}
        for c in candidates:
            if not _live(sessions.get(c.session or "")):
                waiting.setdefault((c.room, c.slot), []).append(c)
        short, made = [], []  # (room, slot, candidates, free seats) that do not fit
        for (where, slot), group in sorted(waiting.items()):
            start = slot_start(zone, day, slot)
            free = [d for d in seats.get(where, []) if d.id not in taken.get((where, start), set())]
            if len(group) > len(free):
                short.append((where, slot, len(group), len(free)))
            else:
                made += [(c, d, start) for c, d in zip(sorted(group, key=lambda c: seat_order(c.number)), free)]
        if short:
            where, slot, count, free = short[0]
            if not seats.get(where):
                raise Invalid("room {room} has no exam devices placed; {others} other room(s) or slot(s) lack seats "
                              "too: nothing was scheduled", room=where, others=len(short) - 1)
            raise Invalid("room {room} at {slot}: {count} candidates, {free} free seats; {others} other room(s) or "
                          "slot(s) lack seats too: nothing was scheduled", room=where, slot=slot, count=count,
                          free=free, others=len(short) - 1)
        for candidate, device, start in made:
            _schedule(tx, store, candidate, device, start, user)
        already = len(candidates) - len(made)
        tx.audit(f"user:{user}", "exam.day_scheduled", site, {"day": day, "room": room, "scheduled": len(made),
                                                               "already": already})
    return Scheduled(len(made), already)


@dataclass(frozen=True)
class Closed:
    """What closing a day did: sessions never run closed as void (the candidate absent), keys forgotten."""

    absent: int
    keys_forgotten: int


def close_day(store: Store, site: str, day: str, user: str, zone: str) -> Closed:
    """Close `site`'s exam day: every session its device has not run, of a candidate not checked in, is closed as
    void ("absent") and the day's chip access keys are forgotten now rather
    than at midnight. Sessions that ran keep waiting for their verdicts. Audited (`exam.day_closed`)."""
    if not store.candidates.day(site, day):
        raise Invalid("no candidate list for {site} on {day}: import it first", site=site, day=day)
    absent = 0
    with store.db.transaction() as tx:
        listed = {c.session: c for c in store.candidates.day(site, day) if c.session}
        for session in store.exams.sessions(site, *_day_range(zone, day)):
            candidate = listed.get(session.id)
            if candidate is None or candidate.checked_in_at or not _live(session) or \
                    has_run(session, store.exams.flags(session.id)):
                continue
            session.ended_at, session.verdict, session.verdict_note = tx.now, "void", ABSENT
            session.verdict_by, session.verdict_at = user, tx.now
            store.exams.save_session(tx, session, new=False)
            absent += 1
        forgotten = store.candidates.clear_access_of(tx, site, day)
        tx.audit(f"user:{user}", "exam.day_closed", site, {"day": day, "absent": absent, "keys_forgotten": forgotten})
    return Closed(absent, forgotten)


def _day_range(zone: str, day: str) -> tuple[str, str]:
    _, start, end = local_day(zone, date.fromisoformat(day))
    return start, end


def _schedule(tx: Tx, store: Store, candidate: ExamCandidate, device: Device, start: str, user: str) -> ExamSession:
    session = ExamSession(id=str(uuid7()), site=candidate.site, device=device.id, candidate=candidate.id,
                          exam_type=candidate.licence_class, stage=_part(candidate), seat=device.seat,
                          started_at=start, updated_at=tx.now, created_by=f"user:{user}", room=device.room)
    store.exams.save_session(tx, session, new=True)
    store.candidates.replace(tx, replace(candidate, session=session.id))
    return session


def move(store: Store, candidate_id: str, device_id: str, slot: str | None, user: str, zone: str,
         publish: Publish | None, signing_key: DeviceKey | None) -> ExamSession:
    """Seat one candidate by hand: on `device_id` (an exam device of their centre; its room and seat become the
    session's), at `slot` ("HH:MM") or their listed one. A session not yet run is moved (withdrawn from its old
    device if it was sent, and sent to the new one if the candidate has checked in); one that has run stays and
    the move is refused. Audited (`exam.session.moved`)."""
    candidate = store.candidates.get(candidate_id)
    if candidate is None:
        raise NotFound("no candidate {candidate}", candidate=candidate_id)
    device = store.devices.get(device_id)
    if device is None or device.kind != "exam" or not device.active or device.site != candidate.site:
        raise Invalid("{device} is not an active exam device of {site}", device=device_id, site=candidate.site)
    start, old_id = slot_start(zone, candidate.exam_date, slot or candidate.slot), candidate.session
    with store.db.transaction() as tx:
        old = store.exams.session_for_update(tx, candidate.session) if candidate.session else None
        if old is not None and _live(old) and has_run(old, store.exams.flags(old.id)):
            raise Conflict("session {session} has run: it cannot move", session=old.id)
        for other in store.exams.sessions(candidate.site, *_day_range(zone, candidate.exam_date)):
            if other.device == device.id and other.started_at == start and _live(other) and other.id != old_id:
                raise Conflict("device {device} already has a session at {slot}", device=device.id,
                               slot=slot or candidate.slot)
        if old is not None and _live(old):
            if old.pushed_at and (publish is None or not publish(cmd_topic(old.site, old.device, SESSION), b"")):
                raise Unavailable("the broker did not take the withdrawal; the session was not moved")
            old.ended_at, old.verdict, old.verdict_note = tx.now, "void", f"moved to {device.id}"
            old.verdict_by, old.verdict_at = user, tx.now
            store.exams.save_session(tx, old, new=False)
        session = _schedule(tx, store, candidate, device, start, user)
        tx.audit(f"user:{user}", "exam.session.moved", session.id,
                 {"candidate": candidate.id, "from": old.device if old else None, "to": device.id,
                  "slot": slot or candidate.slot})
    if candidate.checked_in_at:
        return push(store, session.id, publish, signing_key, f"user:{user}")
    return session


def push(store: Store, session_id: str, publish: Publish | None, signing_key: DeviceKey | None,
         actor: str) -> ExamSession:
    """Send a scheduled session to its device (signed, retained until the device has run it). Conflict when the
    device has another session sent and not ended, Unavailable without the broker."""
    if publish is None or signing_key is None:
        raise Unavailable("this gateway is not connected to the broker")
    with store.db.transaction() as tx:
        session = store.exams.session_for_update(tx, session_id)
        if session is None:
            raise NotFound("no exam session {session}", session=session_id)
        if session.pushed_at:
            return session
        for other in store.exams.open_sessions(session.candidate, session.device):
            if other.id != session.id and other.device == session.device and other.pushed_at:
                raise Conflict("device {device} is still running session {session}", device=session.device,
                               session=other.id)
        command = SessionCommand(session=session.id, device=session.device, candidate=session.candidate,
                                 exam_type=session.exam_type, stage=session.stage, seat=session.seat,
                                 created_by=(session.created_by or "").removeprefix("user:"))
        if not publish(cmd_topic(session.site, session.device, SESSION), sign_command(command, signing_key)):
            raise Unavailable("the broker did not take the session; try again")
        session.pushed_at = tx.now
        store.exams.save_session(tx, session, new=False)
        tx.audit(actor, "exam.session.sent", session.id, {"device": session.device})
    return session
