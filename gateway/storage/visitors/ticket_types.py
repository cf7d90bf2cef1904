"""A site's kinds of ticket (migration 0015): what a pass of each kind allows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from gateway.storage.schema import ticket_types

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class TicketType:
    site: str
    code: str
    name: str
    kind: str  # wire.names.TICKET_KINDS
    days: int  # local days valid, from the first
    entries: int | None  # None: any number
    gates: list[str]  # [] every gate of the site
    active: bool
    created_at: str
    created_by: str


_COLUMNS = (ticket_types.c.site, ticket_types.c.code, ticket_types.c.name, ticket_types.c.kind, ticket_types.c.days,
            ticket_types.c.entries, ticket_types.c.gates, ticket_types.c.active, ticket_types.c.created_at,
            ticket_types.c.created_by)


def _type(row) -> TicketType:
    site, code, name, kind, days, entries, gates, active, created_at, created_by = row
    return TicketType(site, code, name, kind, days, entries, json.loads(gates), bool(active), created_at, created_by)


class TicketTypes:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, ticket: TicketType) -> None:
        tx.execute(insert(ticket_types).values(
            site=ticket.site, code=ticket.code, name=ticket.name, kind=ticket.kind, days=ticket.days,
            entries=ticket.entries, gates=json.dumps(ticket.gates), active=int(ticket.active),
            created_at=ticket.created_at, created_by=ticket.created_by))

    def set_active(self, tx: Tx, site: str, code: str, active: bool) -> None:
        tx.execute(update(ticket_types).where(ticket_types.c.site == site, ticket_types.c.code == code)
                   .values(active=int(active)))

    def get(self, site: str, code: str, tx: Tx | None = None) -> TicketType | None:
        query = select(*_COLUMNS).where(ticket_types.c.site == site, ticket_types.c.code == code)
        if tx is not None:
            row = tx.execute(query).first()
        else:
            with self.db.read() as conn:
                row = conn.execute(query).first()
        return _type(row) if row else None

    def of_site(self, site: str | None = None) -> list[TicketType]:
        """A site's ticket types (every site's if None), by site and code."""
        query = select(*_COLUMNS).order_by(ticket_types.c.site, ticket_types.c.code)
        if site is not None:
            query = query.where(ticket_types.c.site == site)
        with self.db.read() as conn:
            return [_type(r) for r in conn.execute(query).fetchall()]
