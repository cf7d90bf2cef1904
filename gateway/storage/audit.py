"""The hash-chained audit log: how entries are written, and read back.

Entry n stores hash_n = SHA-256(hash_{n-1} | n | at | actor | action | target | detail),
so changing, removing or inserting any entry breaks every later link. Entries
for stored events carry a digest of the event's row, so editing an event in the
database (a verdict, a subject, its body) is caught as well. Entries are only
ever appended through `ChainWriter`, which `Database.transaction()` hands out:
the one writer. Checking the chain is `gateway.services.security.audit`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, or_, select, text

from gateway.storage.schema import AUDIT_ACTIONS, AUDIT_READS, audit

if TYPE_CHECKING:
    from gateway.storage.database import Database


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str  # "user:<name>", "device:<id>", "cli:<who>" or "system"
    action: str  # e.g. "event.stored", "events.read", "user.added", "device.revoked"
    target: str | None
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """One stored entry of the chain."""

    seq: int
    at: str
    actor: str
    action: str
    target: str | None
    detail: str  # canonical JSON, exactly as hashed
    prev: str
    hash: str

    def api(self) -> dict:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action, "target": self.target,
                "detail": json.loads(self.detail or "{}"), "prev": self.prev, "hash": self.hash}


AUDIT_COLUMNS = ("seq", "at", "actor", "action", "target", "detail", "prev", "hash")


@dataclass(frozen=True)
class AuditQuery:
    """A search of the chain, newest first. Every field narrows it; `before` is the cursor (the last seq seen)."""

    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "*" ("exam.flag.*")
    target: str | None = None  # a person, a session, a device, a read... as the action names it
    device: str | None = None  # what a device did (its actor) and what was done to it (the target)
    since: str | None = None  # at >= since (UTC text)
    until: str | None = None  # at < until
    # "people": what users, the CLI and the system did, the pages' own reads apart ("reads"); "devices"; None: all
    who: str | None = None
    before: int | None = None
    limit: int = 100


def chain_hash(prev: str, seq: int, at: str, actor: str, action: str, target: str | None, detail: str) -> str:
    fields = [prev, str(seq), at, actor, action, target or "", detail]
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def canonical_detail(detail: dict) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_digest(values: tuple | list) -> str:
    """Digest of a stored row's values, as recorded in its audit entry."""
    return hashlib.sha256(json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def ids_digest(ids: list[str]) -> str:
    """Digest of a set of ids (order-free), as recorded when retention purges them."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def chain_head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, "") for an empty chain."""
    row = conn.execute(select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, "")


class ChainWriter:
    """Appends entries within one transaction: hashes them as they come, writes them all before the commit."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._head: tuple[int, str] | None = None
        self._rows: list[tuple] = []
        self.count = 0

    def append(self, entry: AuditEntry) -> int:
        if self._head is None:
            self._head = chain_head(self.conn)  # read inside the write lock: no other writer can interleave
        seq, prev = self._head[0] + 1, self._head[1]
        detail = canonical_detail(entry.detail)
        digest = chain_hash(prev, seq, entry.at, entry.actor, entry.action, entry.target, detail)
        self._rows.append((seq, entry.at, entry.actor, entry.action, entry.target, detail, prev, digest))
        self._head = (seq, digest)
        self.count += 1
        return seq

    def mark(self) -> tuple:
        return (self._head, len(self._rows), self.count)

    def rollback_to(self, mark: tuple) -> None:
        """Forget the entries appended since `mark` (their changes were rolled back to a savepoint)."""
        self._head, rows, self.count = mark
        del self._rows[rows:]

    def flush(self, insert_many) -> tuple[int, str] | None:
        """Write the pending entries with `insert_many`; the new head, or None if nothing was appended."""
        if self._rows:
            insert_many(audit, AUDIT_COLUMNS, self._rows)
            self._rows = []
        return self._head if self.count else None


class AuditLog:
    """Reads of the audit chain."""

    def __init__(self, db: Database):
        self.db = db

    def entries(self, after_seq: int = 0, limit: int | None = None, newest_first: bool = False,
                before_seq: int | None = None) -> list[AuditRow]:
        """Entries after `after_seq` (and before `before_seq`), in chain order or newest first."""
        query = select(audit).where(audit.c.seq > after_seq)
        if before_seq is not None:
            query = query.where(audit.c.seq < before_seq)
        query = query.order_by(audit.c.seq.desc() if newest_first else audit.c.seq)
        if limit:
            query = query.limit(limit)
        with self.db.read() as conn:
            return [AuditRow(*row) for row in conn.execute(query)]

    def search(self, q: AuditQuery) -> list[AuditRow]:
        """Entries matching `q`, newest first."""
        query = select(audit)
        if q.actor:
            query = query.where(audit.c.actor == q.actor)
        if q.action and q.action.endswith("*"):
            prefix = q.action[:-1]  # substr, not LIKE: no wildcard in the prefix, and no collation to surprise
            query = query.where(func.substr(audit.c.action, 1, len(prefix)) == prefix)
        elif q.action:
            query = query.where(audit.c.action == q.action)
        if q.target:
            query = query.where(audit.c.target == q.target)
        if q.device:  # each side on its own index (actor, seq) and (target, seq)
            query = query.where(or_(audit.c.actor == f"device:{q.device}", audit.c.target == q.device))
        if q.since:
            query = query.where(audit.c.at >= q.since)
        if q.until:
            query = query.where(audit.c.at < q.until)
        if q.who == "people":
            query = query.where(text(AUDIT_ACTIONS))
        elif q.who == "reads":
            query = query.where(text(AUDIT_READS))
        elif q.who == "devices":
            query = query.where(func.substr(audit.c.actor, 1, 7) == "device:")
        if q.before is not None:
            query = query.where(audit.c.seq < q.before)
        with self.db.read() as conn:
            return [AuditRow(*row) for row in conn.execute(query.order_by(audit.c.seq.desc()).limit(q.limit))]

    def walk(self, batch: int = 10_000) -> Iterator[AuditRow]:
        """Every entry in chain order, read in batches (a chain of millions does not sit in memory)."""
        after = 0
        while rows := self.entries(after, batch):
            yield from rows
            after = rows[-1].seq

    def head(self) -> tuple[int, str]:
        with self.db.read() as conn:
            return chain_head(conn)

    def count(self) -> int:
        with self.db.read() as conn:
            return conn.execute(select(func.count()).select_from(audit)).scalar_one()
