"""A site's kinds of ticket, set up by an admin: how long a pass of each kind is valid, how often it lets its
holder in, and through which gates. What is sold is copied onto each pass, so a change later does not change
passes already sold; a kind no longer sold is switched off, never deleted (the day's numbers name it)."""

from __future__ import annotations

import re

from gateway.errors import Conflict, Invalid, NotFound
from gateway.storage import Store, TicketType
from wire.names import TICKET_KINDS

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_DAYS = 400  # a season is at most a year and a little


def add_type(store: Store, site: str, code: str, name: str, kind: str, actor: str, days: int | None = None,
             gates: list[str] | None = None) -> TicketType:
    """A new kind of ticket at `site` (audited). `single` is one entry on one day; `day` its day; `days` and
    `season` are `days` local days long, any number of entries. `gates`: the site's gate devices it opens (none
    given: every gate there)."""
    if site not in store.people.site_ids():
        raise Invalid("unknown site(s): {sites}", sites=site)
    if not CODE.match(code or ""):
        raise Invalid("a ticket type's code: 1-32 small letters, digits, '-' or '_', not '{code}'", code=code)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("a ticket type needs a name of at most 100 characters")
    if kind not in TICKET_KINDS:
        raise Invalid("a ticket's kind is one of {kinds}, not '{kind}'", kinds=", ".join(TICKET_KINDS), kind=kind)
    if kind in ("single", "day"):
        if days not in (None, 1):
            raise Invalid("a {kind} ticket is valid for one day", kind=kind)
        days = 1
    elif days is None or not 1 <= days <= MAX_DAYS:
        raise Invalid("a {kind} ticket needs its number of days, 1 to {most}", kind=kind, most=MAX_DAYS)
    gates = sorted(set(gates or []))
    site_gates = {d.id for d in store.devices.all() if d.site == site and d.kind == "gate"}
    strangers = [g for g in gates if g not in site_gates]
    if strangers:
        raise Invalid("not a gate of {site}: {gates}", site=site, gates=", ".join(strangers))
    with store.db.transaction() as tx:
        if store.ticket_types.get(site, code, tx) is not None:
            raise Conflict("{site} already has a ticket type '{code}'", site=site, code=code)
        ticket = TicketType(site, code, name, kind, days, 1 if kind == "single" else None, gates, True, tx.now, actor)
        store.ticket_types.add(tx, ticket)
        tx.audit(actor, "ticket_type.added", f"{site}/{code}",
                 {"name": name, "kind": kind, "days": days, "gates": gates})
    return ticket


def set_sold(store: Store, site: str, code: str, sold: bool, actor: str) -> TicketType:
    """Sell a kind of ticket again, or no longer (audited); passes already sold stay as they are."""
    with store.db.transaction(unaudited="it was already so") as tx:
        ticket = store.ticket_types.get(site, code, tx)
        if ticket is None:
            raise NotFound("{site} has no ticket type '{code}'", site=site, code=code)
        if ticket.active != sold:
            store.ticket_types.set_active(tx, site, code, sold)
            tx.audit(actor, "ticket_type.changed", f"{site}/{code}", {"sold": sold})
    return store.ticket_types.get(site, code)
