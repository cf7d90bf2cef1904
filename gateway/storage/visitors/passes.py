"""Passes (migration 0015): what lets a person in at a site, held by a face or a QR ticket; and the ticketing
system's requests by idempotency key, kept with the passes they made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import case, func, insert, select, update

from gateway.storage.schema import passes, ticketing_requests

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class Pass:
    id: str
    site: str
    ticket_type: str
    subject: str | None  # None: a QR ticket holds it
    group_id: str | None
    group_role: str | None  # "guide" | "member"
    valid_from: str
    valid_until: str  # excluded
    gates: list[str]  # [] every gate of the site
    entries: int | None
    used: int
    status: str  # "active" | "cancelled"
    reference: str | None
    created_at: str
    created_by: str
    updated_at: str


_COLUMNS = (passes.c.id, passes.c.site, passes.c.ticket_type, passes.c.subject, passes.c.group_id,
            passes.c.group_role, passes.c.valid_from, passes.c.valid_until, passes.c.gates, passes.c.entries,
            passes.c.used, passes.c.status, passes.c.reference, passes.c.created_at, passes.c.created_by,
            passes.c.updated_at)


def _pass(row) -> Pass:
    values = list(row)
    values[8] = json.loads(values[8])
    return Pass(*values)


class Passes:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, p: Pass) -> None:
        tx.execute(insert(passes).values(
            id=p.id, site=p.site, ticket_type=p.ticket_type, subject=p.subject, group_id=p.group_id,
            group_role=p.group_role, valid_from=p.valid_from, valid_until=p.valid_until, gates=json.dumps(p.gates),
            entries=p.entries, used=p.used, status=p.status, reference=p.reference, created_at=p.created_at,
            created_by=p.created_by, updated_at=p.updated_at))

    def get(self, pass_id: str, tx: Tx | None = None) -> Pass | None:
        rows = self._rows(select(*_COLUMNS).where(passes.c.id == pass_id), tx)
        return rows[0] if rows else None

    def set_until(self, tx: Tx, pass_id: str, valid_until: str) -> None:
        tx.execute(update(passes).where(passes.c.id == pass_id).values(valid_until=valid_until, updated_at=tx.now))

    def cancel(self, tx: Tx, pass_id: str) -> None:
        tx.execute(update(passes).where(passes.c.id == pass_id).values(status="cancelled", updated_at=tx.now))

    def entered(self, tx: Tx, pass_id: str) -> None:
        """One entry on the pass stored. A pass with entries counted changes for the gates (they refuse it once
        spent); one allowing any number does not, so a busy day is not a gallery version per visitor."""
        tx.execute(update(passes).where(passes.c.id == pass_id).values(
            used=passes.c.used + 1,
            updated_at=case((passes.c.entries.is_(None), passes.c.updated_at), else_=tx.now)))

    def find(self, site: str | None = None, subject: str | None = None, group_id: str | None = None,
             limit: int = 100, before: str | None = None) -> list[Pass]:
        """Passes, newest first (by id within a second), `limit` at most; older than pass `before` if given."""
        query = select(*_COLUMNS).order_by(passes.c.created_at.desc(), passes.c.id.desc()).limit(limit)
        if site is not None:
            query = query.where(passes.c.site == site)
        if subject is not None:
            query = query.where(passes.c.subject == subject)
        if group_id is not None:
            query = query.where(passes.c.group_id == group_id)
        if before is not None:
            older = self.get(before)
            if older is not None:
                query = query.where((passes.c.created_at < older.created_at)
                                    | ((passes.c.created_at == older.created_at) & (passes.c.id < older.id)))
        return self._rows(query)

    def held_at(self, site: str, subjects: list[str] | None = None) -> dict[str, list[Pass]]:
        """Every face-held pass at `site` (cancelled ones too), by subject: who holds passes there at all."""
        query = select(*_COLUMNS).where(passes.c.site == site, passes.c.subject.is_not(None)) \
            .order_by(passes.c.subject, passes.c.valid_from, passes.c.id)
        held: dict[str, list[Pass]] = {}
        for p in self._rows(query):
            if subjects is None or p.subject in subjects:
                held.setdefault(p.subject, []).append(p)
        return held

    def changed_at(self, site: str) -> str | None:
        """When a pass at `site` last changed in a way its gates must know (the last entry of an index)."""
        with self.db.read() as conn:
            return conn.execute(select(func.max(passes.c.updated_at)).where(passes.c.site == site)).scalar()

    def tickets_to_list(self, site: str, now: str) -> list[Pass]:
        """The QR passes of `site`, still valid, whose gates must be told what the ticket cannot say: cancelled,
        or entries counted and some used."""
        return self._rows(select(*_COLUMNS).where(
            passes.c.site == site, passes.c.subject.is_(None), passes.c.valid_until > now,
            (passes.c.status == "cancelled") | (passes.c.entries.is_not(None) & (passes.c.used > 0)))
            .order_by(passes.c.id))

    # -- the ticketing system's requests ----------------------------------------------------------------

    def request(self, site: str, key: str, tx: Tx | None = None) -> tuple[str, dict] | None:
        """(fingerprint, first answer) of the request made with `key` at `site`, if one was."""
        query = select(ticketing_requests.c.fingerprint, ticketing_requests.c.response).where(
            ticketing_requests.c.site == site, ticketing_requests.c.key == key)
        if tx is not None:
            row = tx.execute(query).first()
        else:
            with self.db.read() as conn:
                row = conn.execute(query).first()
        return (row[0], json.loads(row[1])) if row else None

    def remember_request(self, tx: Tx, site: str, key: str, fingerprint: str, response: dict) -> None:
        tx.execute(insert(ticketing_requests).values(site=site, key=key, fingerprint=fingerprint,
                                                     response=json.dumps(response), created_at=tx.now))

    def _rows(self, query, tx: Tx | None = None) -> list[Pass]:
        if tx is not None:
            return [_pass(r) for r in tx.execute(query).fetchall()]
        with self.db.read() as conn:
            return [_pass(r) for r in conn.execute(query).fetchall()]
