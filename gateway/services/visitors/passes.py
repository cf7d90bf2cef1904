"""Passes: sold, extended and cancelled by a site's ticketing system (or an admin), each change audited.

A pass lets its holder in at one site: a face (an enrolled subject whose gate consent covers the site for the
whole of the pass) or a QR ticket. Its window is whole local days on the site's clock, from its first day;
its gates and entries are its ticket type's when sold. A group is a guide and N members, a pass each, every
one entering once, sold together.

A request from the ticketing system may carry an idempotency key: the first answer is stored with the passes
it made, in one transaction, and a retry with the key gets that answer again instead of a second sale; the key
used for a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.events.local_time import local_day
from gateway.storage import Pass, Store, TicketType, Tx
from wire.events import utc_text
from wire.gallery import Admit

ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O or U to misread off a ticket
MAX_GROUP = 200
MAX_AHEAD_DAYS = 400  # a pass sold for a first day further ahead is a typing error


def new_id(prefix: str) -> str:
    """A pass's or group's id: short enough to print under a 30 mm QR code, 50 random bits."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class Sale:
    """What the ticketing system asks for: a ticket type at its site, from a first day (today if None)."""

    site: str
    ticket_type: str
    first_day: date | None = None
    subject: str | None = None  # the face that holds it; None: a QR ticket
    reference: str | None = None  # the ticketing system's own reference

    def fingerprint(self, **more: object) -> str:
        asked = {"site": self.site, "type": self.ticket_type, "first_day": str(self.first_day),
                 "subject": self.subject, "reference": self.reference, **more}
        return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def _window(ticket: TicketType, first_day: date | None, zone: str) -> tuple[str, str]:
    today = datetime.now(timezone.utc).date()
    day, start, _ = local_day(zone, first_day)
    if first_day is not None and not (today - timedelta(days=1) <= first_day <= today + timedelta(days=MAX_AHEAD_DAYS)):
        raise Invalid("a pass's first day is from today to {days} days ahead, not {day}", days=MAX_AHEAD_DAYS,
                      day=first_day.isoformat())
    _, _, end = local_day(zone, day + timedelta(days=ticket.days - 1))
    return start, end


def _ticket(store: Store, tx: Tx, sale: Sale) -> TicketType:
    ticket = store.ticket_types.get(sale.site, sale.ticket_type, tx)
    if ticket is None:
        raise NotFound("{site} has no ticket type '{code}'", site=sale.site, code=sale.ticket_type)
    if not ticket.active:
        raise Conflict("{site} no longer sells '{code}'", site=sale.site, code=sale.ticket_type)
    return ticket


def _check_face(store: Store, subject: str, site: str, until: str, now: str) -> None:
    """A face may hold a pass only while their gate consent covers the site, for the whole pass."""
    if not store.people.subject_exists(subject):
        raise NotFound("no subject '{subject}'", subject=subject)
    consents = [c for c in store.people.consents_of(subject) if c.covers(site, "gate", now)]
    if not consents:
        raise Invalid("{subject} has no consent to face processing at the gates of {site}: sell a QR ticket",
                      subject=subject, site=site)
    if all(c.expires_at is not None and c.expires_at < until for c in consents):
        raise Invalid("{subject}'s consent ends before the pass does", subject=subject)


def _new_pass(sale: Sale, ticket: TicketType, window: tuple[str, str], actor: str, now: str,
              subject: str | None = None, group: tuple[str, str] | None = None, entries: int | None = None) -> Pass:
    return Pass(new_id("P"), sale.site, ticket.code, subject, group[0] if group else None,
                group[1] if group else None, window[0], window[1], ticket.gates,
                entries if entries is not None else ticket.entries, 0, "active", sale.reference, now, actor, now)


def pass_view(p: Pass) -> dict:
    """A pass as the API answers it (and as an idempotent retry gets it again)."""
    return {"id": p.id, "site": p.site, "ticket_type": p.ticket_type, "holder": "face" if p.subject else "qr",
            "subject": p.subject, "group": p.group_id, "group_role": p.group_role, "valid_from": p.valid_from,
            "valid_until": p.valid_until, "gates": p.gates, "entries": p.entries, "used": p.used,
            "status": p.status, "reference": p.reference, "created_at": p.created_at, "created_by": p.created_by}


def _once(store: Store, site: str, key: str | None, fingerprint: str, make: Callable[[Tx], dict]) -> dict:
    """`make(tx)`'s answer, made once per idempotency `key` at `site` (and stored with it), or the first answer
    again; Conflict if the key was used for a different request."""
    with store.db.transaction(unaudited="a retry, answered as it was the first time") as tx:
        if key is not None:
            earlier = store.passes.request(site, key, tx)
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise Conflict("the idempotency key '{key}' was used for a different request", key=key)
                return earlier[1] | {"replayed": True}
        answer = make(tx)
        if key is not None:
            store.passes.remember_request(tx, site, key, fingerprint, answer)
        return answer | {"replayed": False}


def sell(store: Store, sale: Sale, actor: str, zone: str, key: str | None = None) -> dict:
    """Sell one pass (audited); {"passes": [the pass], "replayed": bool}."""
    now = utc_text(datetime.now(timezone.utc))

    def make(tx: Tx) -> dict:
        ticket = _ticket(store, tx, sale)
        window = _window(ticket, sale.first_day, zone)
        if sale.subject is not None:
            _check_face(store, sale.subject, sale.site, window[1], now)
        sold = _new_pass(sale, ticket, window, actor, tx.now, subject=sale.subject)
        store.passes.add(tx, sold)
        tx.audit(actor, "pass.sold", sold.id, {"site": sale.site, "type": ticket.code, "holder": sale.subject or "qr",
                                               "until": window[1], "reference": sale.reference})
        return {"passes": [pass_view(sold)]}

    return _once(store, sale.site, key, sale.fingerprint(), make)


def sell_group(store: Store, sale: Sale, members: int, actor: str, zone: str, key: str | None = None,
               guide: str | None = None) -> dict:
    """Sell a group: a guide's pass (held by face `guide`, else a QR ticket) and `members` QR passes, every one
    entering once (audited as one sale); {"group": id, "passes": [guide's, members'...], "replayed": bool}."""
    if not 1 <= members <= MAX_GROUP:
        raise Invalid("a group has 1 to {most} members besides its guide", most=MAX_GROUP)
    now = utc_text(datetime.now(timezone.utc))

    def make(tx: Tx) -> dict:
        ticket = _ticket(store, tx, sale)
        window = _window(ticket, sale.first_day, zone)
        if guide is not None:
            _check_face(store, guide, sale.site, window[1], now)
        group = new_id("G")
        sold = [_new_pass(sale, ticket, window, actor, tx.now, subject=guide, group=(group, "guide"), entries=1)]
        sold += [_new_pass(sale, ticket, window, actor, tx.now, group=(group, "member"), entries=1)
                 for _ in range(members)]
        for p in sold:
            store.passes.add(tx, p)
        tx.audit(actor, "pass.group_sold", group, {"site": sale.site, "type": ticket.code, "members": members,
                                                   "guide": guide or "qr", "until": window[1],
                                                   "reference": sale.reference})
        return {"group": group, "passes": [pass_view(p) for p in sold]}

    return _once(store, sale.site, key, sale.fingerprint(members=members, guide=guide), make)


def _held(store: Store, tx: Tx, pass_id: str, site: str | None) -> Pass:
    held = store.passes.get(pass_id, tx)
    if held is None or (site is not None and held.site != site):  # another site's pass is none of its business
        raise NotFound("no pass '{id}'", id=pass_id)
    return held


def extend(store: Store, pass_id: str, last_day: date, actor: str, zone: str, site: str | None = None,
           key: str | None = None) -> dict:
    """Let the pass in until the end of `last_day` on the site's clock (audited); a face's consent must cover it.
    `site`: the asker's (a ticketing system sees only its own site's passes)."""
    def make(tx: Tx) -> dict:
        held = _held(store, tx, pass_id, site)
        if held.status != "active":
            raise Conflict("pass {id} is cancelled", id=pass_id)
        _, _, until = local_day(zone, last_day)
        if until <= held.valid_from:
            raise Invalid("a pass's last day cannot be before its first")
        if held.subject is not None:
            _check_face(store, held.subject, held.site, until, tx.now)
        store.passes.set_until(tx, pass_id, until)
        tx.audit(actor, "pass.extended", pass_id, {"from": held.valid_until, "until": until})
        return {"passes": [pass_view(store.passes.get(pass_id, tx))]}

    held = store.passes.get(pass_id)
    scope = site or (held.site if held else "")
    return _once(store, scope, key, hashlib.sha256(f"extend|{pass_id}|{last_day}".encode()).hexdigest(), make)


def cancel(store: Store, pass_id: str, actor: str, reason: str | None = None, site: str | None = None,
           key: str | None = None) -> dict:
    """Cancel a pass (audited): its gates refuse it from their next gallery; it stays on record."""
    def make(tx: Tx) -> dict:
        held = _held(store, tx, pass_id, site)
        if held.status == "cancelled":
            raise Conflict("pass {id} is cancelled", id=pass_id)
        store.passes.cancel(tx, pass_id)
        tx.audit(actor, "pass.cancelled", pass_id, {"reason": reason or ""})
        return {"passes": [pass_view(store.passes.get(pass_id, tx))]}

    held = store.passes.get(pass_id)
    scope = site or (held.site if held else "")
    return _once(store, scope, key, hashlib.sha256(f"cancel|{pass_id}".encode()).hexdigest(), make)


def admits_at(store: Store, site: str) -> dict[str, list[Admit]]:
    """Every subject who holds passes at `site`, with the passes its gates honour: cancelled ones are left out,
    so one whose passes are all cancelled is refused rather than let in on their consent alone."""
    return {subject: [Admit(p.id, p.valid_from, p.valid_until, tuple(p.gates) or None, p.entries, p.used)
                      for p in held if p.status == "active"]
            for subject, held in store.passes.held_at(site).items()}


def admits_digest(admits: dict[str, list[Admit]]) -> str | None:
    """What a gallery's passes are, in a few bytes: a change of any of them is a new gallery version."""
    if not admits:
        return None
    rows = {s: [a.wire() for a in passes] for s, passes in sorted(admits.items())}
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()

