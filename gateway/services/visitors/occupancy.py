"""How many people are inside each site, and whether it is full.

The count is the site's, per local day: each granted verdict a gate stores with a direction -- by face or by
ticket -- adds one going in and takes one away going out (never below nobody), in the event's own transaction,
on the day it was captured; an operator's count replaces it (audited), for whatever the gates cannot see (a
school party let through the side gate, a miscount). At its capacity a site is full: its gates' `in` lanes
answer `full` from the next ticket list they get (services/visitors/qr.py), while exits stay open; a door opened
by hand for someone is the override, and is audited as every opening is.

Every stored verdict is also counted by hour (`tally`, in the same transaction): the day in numbers reads those
counts (services/visitors/numbers.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from gateway.errors import Invalid, NotFound
from gateway.storage import SiteOccupancy, Store, StoredEvent, Tx, VisitCount

MAX_CAPACITY = 1_000_000


def local_date(stored: str, zone: str) -> str:
    """The local day (YYYY-MM-DD) of a stored UTC time."""
    return datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).date().isoformat()


def today(zone: str) -> str:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(zone)).date().isoformat()


def counted(store: Store, tx: Tx, event: StoredEvent, zone: str) -> None:
    """A stored verdict event: one more inside, or one fewer, if it let someone through a lane with a direction."""
    if event.kind != "verdict" or event.verdict != "granted":
        return
    direction = json.loads(event.body).get("direction")
    if direction not in ("in", "out"):
        return
    day = local_date(event.captured_at, zone)
    now = store.occupancy.of(event.site, day, tx)
    if now is not None:
        store.occupancy.set_inside(tx, event.site, day, max(0, now.inside + (1 if direction == "in" else -1)))


def current(store: Store, site: str, zone: str) -> SiteOccupancy:
    found = store.occupancy.of(site, today(zone))
    if found is None:
        raise NotFound("no site '{site}'", site=site)
    return found


def correct(store: Store, site: str, inside: int, actor: str, zone: str, reason: str = "") -> SiteOccupancy:
    """An operator counted `inside` people: the count is that from now on (audited, with what it was)."""
    if not 0 <= inside <= MAX_CAPACITY:
        raise Invalid("a count of people is from 0 to {most}", most=MAX_CAPACITY)
    day = today(zone)
    with store.db.transaction() as tx:
        was = store.occupancy.of(site, day, tx)
        if was is None:
            raise NotFound("no site '{site}'", site=site)
        store.occupancy.set_inside(tx, site, day, inside)
        tx.audit(actor, "occupancy.corrected", site, {"from": was.inside, "to": inside, "reason": reason})
    return current(store, site, zone)


def set_capacity(store: Store, site: str, capacity: int | None, actor: str, zone: str) -> SiteOccupancy:
    """The most people inside `site` at once (None: no limit), audited."""
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise Invalid("a capacity is from 1 to {most} people", most=MAX_CAPACITY)
    with store.db.transaction() as tx:
        was = store.occupancy.of(site, today(zone), tx)
        if was is None:
            raise NotFound("no site '{site}'", site=site)
        store.occupancy.set_capacity(tx, site, capacity)
        tx.audit(actor, "site.capacity", site, {"from": was.capacity, "to": capacity})
    return current(store, site, zone)


def tally(store: Store, tx: Tx, stored: list[StoredEvent]) -> None:
    """Count a batch's stored verdicts by hour, gate, verdict, direction, method and ticket type (the day in
    numbers reads these counts, never the events)."""
    counts: dict[tuple, int] = {}
    ticket_types: dict[str, str] = {}
    for event in stored:
        if event.kind != "verdict" or not event.verdict:
            continue
        body = json.loads(event.body)
        pass_id = body.get("pass_id")
        if pass_id and pass_id not in ticket_types:
            held = store.passes.get(pass_id, tx)
            ticket_types[pass_id] = held.ticket_type if held and held.site == event.site else ""
        key = (event.site, event.device, event.captured_at[:13], event.verdict, body.get("direction") or "",
               body.get("method") or "face", ticket_types.get(pass_id, "") if pass_id else "")
        counts[key] = counts.get(key, 0) + 1
    store.visits.add(tx, [VisitCount(*key, count) for key, count in sorted(counts.items())])
