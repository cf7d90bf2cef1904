"""How many people are inside each site, and whether it is full.

The count is the site's, per local day: each granted verdict a gate stores with a direction -- by face or by
ticket -- adds one going in and takes one away going out (never below nobody), in the events' own transaction,
on the day it was captured (services/visitors/passages.py); an operator's count replaces it (audited), for whatever the gates cannot see (a
school party let through the side gate, a miscount). At its capacity a site is full: its gates' `in` lanes
answer `full` from the next ticket list they get (services/visitors/qr.py), while exits stay open; a door opened
by hand for someone is the override, and is audited as every opening is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from gateway.errors import Invalid, NotFound
from gateway.storage import SiteOccupancy, Store

MAX_CAPACITY = 1_000_000


def local_date(stored: str, zone: str) -> str:
    """The local day (YYYY-MM-DD) of a stored UTC time."""
    return datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).date().isoformat()


def today(zone: str) -> str:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(zone)).date().isoformat()


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

