"""Stored events: filtered pages, one event, and the live stream.

Reads of events name people (verdict subjects), so each query is written to
the audit log with who asked and what for. Exam events are shown only to the
exam roles, on every route.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import EVERYONE, EXAM_ROLES, LIVE_ROLES, GatewayDep, actor, request_token, require
from gateway.api.params import time_param
from gateway.api.templates import reader_words
from gateway.i18n import N_
from gateway.services.events import follow_up
from gateway.services.events.local_time import local_day
from gateway.storage import EventQuery, Session, StoredEvent
from wire.events import EVENT_TYPES
from wire.names import PASS_REFUSALS, VerdictKind
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/events", tags=["events"])

SSE_KEEPALIVE_S = 15.0
SSE_RECHECK_S = 5.0  # how soon a stream notices its token expired or was revoked
EXAM_KINDS = frozenset(k for k in EVENT_TYPES if k.startswith("exam."))
Kind = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]
VerdictValue = Literal[VerdictKind, "opened", "failed"]  # door: outcome
FollowUp = Literal[follow_up.NEEDS_A_PERSON]  # type: ignore[valid-type]
# The live page's counters, each the stored events of one (kind, verdict or door outcome).
COUNTED = {"granted": ("verdict", "granted"), "unknown": ("verdict", "unknown"),
           "spoof_suspected": ("verdict", "spoof_suspected"), "passback": ("verdict", "passback"),
           **{refusal: ("verdict", refusal) for refusal in (*PASS_REFUSALS, "full")},
           "door_opened": ("door", "opened"), "door_failed": ("door", "failed"), "tailgate": ("tailgate", None)}
CountName = Literal[tuple(COUNTED)]  # type: ignore[valid-type]
IdParam = Annotated[str | None, Query(pattern=ID_PATTERN.pattern)]


class EventPage(BaseModel):
    events: list[dict]
    next_cursor: str | None  # pass as `cursor` for the next (older) page; None at the end


# A kiosk's card events carry nothing a page shows (their contents are sealed for the kiosk service, and deleted
# with the read); the audit chain records each read. Only an admin sees them, as any stored event.
CARD_KINDS = frozenset({"card"})
# A verdict's face crop is sealed; its picture is shown decrypted, by its own route, to who may see verdicts.
CROP_KINDS = frozenset({"crop"})


def hidden_kinds(session: Session) -> frozenset[str]:
    exam = frozenset() if session.user.role in EXAM_ROLES else EXAM_KINDS
    return exam | CROP_KINDS if session.user.role == "admin" else exam | CARD_KINDS | CROP_KINDS


def encode_cursor(event: StoredEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.captured_at}|{event.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        captured_at, event_id = text.split("|")
        return captured_at, event_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": "not a cursor from this API",
                                   "type": "value_error"}]) from None


@router.get("", response_model=EventPage)
def list_events(
    gw: GatewayDep,
    session: Annotated[Session, Depends(require(*EVERYONE))],
    site: IdParam = None,
    device: IdParam = None,
    kind: Kind | None = None,
    verdict: VerdictValue | None = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="captured at or after (ISO 8601; UTC if no zone)")] = None,
    until: Annotated[datetime | None, Query(description="captured before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> EventPage:
    """Stored events, newest first, filtered; page with `next_cursor`."""
    q = EventQuery(site=site, device=device, kind=kind, verdict=verdict, subject=subject,
                   since=time_param(since), until=time_param(until),
                   before=decode_cursor(cursor) if cursor else None, limit=limit, hidden_kinds=hidden_kinds(session))
    rows = gw.store.events.query(q)
    filters = {k: v for k, v in q.__dict__.items() if v and k not in ("limit", "before", "hidden_kinds")}
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "events.read", None, {"filters": filters, "returned": len(rows)})
    acks = gw.store.follow_ups.of_events([r.id for r in rows if follow_up.follow_up_of(r)])
    events = [r.api() | ({"acknowledgement": acks[r.id].api() if r.id in acks else None}
                         if follow_up.follow_up_of(r) else {}) for r in rows]
    return EventPage(events=events, next_cursor=encode_cursor(rows[-1]) if len(rows) == limit else None)


class AcknowledgeIn(BaseModel):
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


@router.post("/{event_id}/acknowledge", status_code=201)
def acknowledge(event_id: Annotated[str, Path(max_length=64)], body: AcknowledgeIn, gw: GatewayDep,
                session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> dict:
    """An operator dealt with an `unknown`, `spoof_suspected` or `passback` verdict, or a `tailgate` (once;
    audited, with the note)."""
    return follow_up.acknowledge(gw.store, event_id, session.user.name, body.note).api()


class AcknowledgeManyIn(BaseModel):
    events: list[Annotated[str, StringConstraints(max_length=64)]] = Field(min_length=1, max_length=500)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class AcknowledgedMany(BaseModel):
    acknowledged: list[str]
    skipped: list[str]  # someone dealt with it first, or it needs no one


@router.post("/acknowledge", response_model=AcknowledgedMany)
def acknowledge_many(body: AcknowledgeManyIn, gw: GatewayDep,
                     session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> AcknowledgedMany:
    """An operator dealt with several at once -- a lane's waiting verdicts, or all of them -- with one note (each
    audited)."""
    done, skipped = follow_up.acknowledge_many(gw.store, body.events, session.user.name, body.note)
    return AcknowledgedMany(acknowledged=done, skipped=skipped)


@router.get("/{event_id}/crop", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def face_crop(event_id: Annotated[str, Path(max_length=64)], gw: GatewayDep,
              session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> Response:
    """The small face crop of an `unknown` or `spoof_suspected` verdict, for its card (a day at most: then 404);
    each look is audited as a read."""
    jpeg = follow_up.face_crop(gw.store, event_id)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "event.read", event_id, {"crop": True})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/instructions")
def instructions(request: Request, gw: GatewayDep,
                 session: Annotated[Session, Depends(require(*LIVE_ROLES))]) -> dict[FollowUp, str]:
    """What to do on each verdict that needs a person: the site's own words, else FaceGate's in yours."""
    words = reader_words(request, session)
    return {verdict: gw.config.instructions.get(verdict) or words.gettext(text)
            for verdict, text in follow_up.DEFAULT_INSTRUCTIONS.items()}


class DayCounts(BaseModel):
    day: date  # the site's local day
    time_zone: str
    since: str  # its first instant, UTC
    until: str  # the next day's first instant, UTC
    counts: dict[CountName, int]


@router.get("/counts", response_model=DayCounts)
def count_verdicts(gw: GatewayDep, session: Annotated[Session, Depends(require(*LIVE_ROLES))],
                   site: IdParam = None, device: IdParam = None,
                   day: Annotated[date | None, Query(description="the sites' local day (default: today there)")] = None
                   ) -> DayCounts:
    """Verdicts of each kind, door openings and failures, and tailgates captured in a local day of the sites'
    time zone, counted by the database: the live page's counters, right however busy the day, and on the
    site's day rather than UTC's."""
    day, since, until = local_day(gw.config.time_zone, day)
    found = gw.store.events.day_counts(since, until, site, device)
    return DayCounts(day=day, time_zone=gw.config.time_zone, since=since, until=until,
                     counts={name: found.get(key, 0) for name, key in COUNTED.items()})


@router.get("/stream")
async def stream_events(
    request: Request,
    gw: GatewayDep,
    session: Annotated[Session, Depends(require(*LIVE_ROLES))],
    site: IdParam = None,
    device: IdParam = None,
    kind: Annotated[list[Kind] | None, Query(description="only these kinds (repeat the parameter)")] = None,
) -> StreamingResponse:
    """Server-Sent Events: every event as it is stored (`event:` is its kind, `id:` its id).

    A client that reads too slowly loses the oldest events first and is told how many by an `event: gap`.

    The stream ends when the token expires or is revoked (logout), checked every few seconds.
    """
    def audit_start() -> None:
        with gw.store.db.transaction() as tx:
            tx.audit(actor(session), "events.stream", None, {"site": site, "device": device, "kind": kind})

    await run_in_threadpool(audit_start)
    token, _ = request_token(request)
    hidden = hidden_kinds(session)
    listener = gw.live.subscribe()

    async def still_valid() -> bool:
        return await run_in_threadpool(gw.auth.session_for, token) is not None

    async def body():
        try:
            yield ": connected\n\n"
            loop = asyncio.get_running_loop()
            next_check = next_keepalive = loop.time()
            while True:
                now = loop.time()
                if now >= next_check:
                    if not await still_valid():
                        yield "event: session-ended\ndata: {}\n\n"
                        return
                    next_check = now + SSE_RECHECK_S
                if now >= next_keepalive + SSE_KEEPALIVE_S:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    next_keepalive = now
                try:
                    first = await asyncio.wait_for(listener.queue.get(), max(0.05, next_check - loop.time()))
                except asyncio.TimeoutError:
                    continue
                events, missed = listener.take()
                chunk = [f"event: gap\ndata: {json.dumps({'missed': missed})}\n\n"] if missed else []
                for event in [first, *events]:
                    if event.kind in hidden or (site and event.site != site) or (
                            device and event.device != device) or (kind and event.kind not in kind):
                        continue
                    chunk.append(f"event: {event.kind}\nid: {event.id}\ndata: {json.dumps(event.api())}\n\n")
                if chunk:
                    yield "".join(chunk)
        finally:
            gw.live.unsubscribe(listener)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/{event_id}")
def get_event(event_id: Annotated[str, Path(max_length=64)], gw: GatewayDep,
              session: Annotated[Session, Depends(require(*EVERYONE))]) -> dict:
    """One stored event with its signature."""
    event = gw.store.events.get(event_id)
    if event is None or event.kind in hidden_kinds(session):
        raise HTTPException(404, N_("no such event"))
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "event.read", event_id)
    return event.api()
