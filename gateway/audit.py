"""The hash-chained audit log.

Entry n stores hash_n = SHA-256(hash_{n-1} | n | at | actor | action | target | detail),
so changing, removing or inserting any entry breaks every later link. Entries
for stored events carry a digest of the event's whole row, so editing an event
in the database (a verdict, a subject, its body) is caught as well.

`verify(storage)` walks the chain and the events and names the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.storage import Storage


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str  # "user:<name>", "device:<id>" or "system"
    action: str  # e.g. "event.stored", "events.read", "user.added", "device.revoked"
    target: str | None
    detail: dict = field(default_factory=dict)


def chain_hash(prev: str, seq: int, at: str, actor: str, action: str, target: str | None, detail: str) -> str:
    fields = [prev, str(seq), at, actor, action, target or "", detail]
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def event_digest(row: tuple) -> str:
    """Digest of a stored event's row (every column), as recorded in its audit entry."""
    return hashlib.sha256(json.dumps(list(row), separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def ids_digest(ids: list[str]) -> str:
    """Digest of a set of event ids (order-free), as recorded when retention purges them."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


@dataclass
class AuditReport:
    ok: bool
    entries: int
    events: int
    first_broken: int | None = None  # audit seq of the first bad link (0 when the problem is an unlogged event)
    reason: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries, {self.events} events checked"
        return f"audit chain BROKEN at entry {self.first_broken}: {self.reason}"


def verify(storage: Storage) -> AuditReport:
    """Recompute the chain and every event digest; stop at the first broken link."""
    digests = {row[0]: event_digest(row) for row in storage.event_rows()}
    purges = storage.purged_ids()
    purged = {event_id for ids in purges.values() for event_id in ids}
    logged: set[str] = set()
    prev, expected_seq, entries = "", 1, 0
    for seq, at, actor, action, target, detail, stored_prev, stored_hash in storage.audit_entries():
        entries += 1
        if seq != expected_seq:
            return AuditReport(False, entries, len(logged), expected_seq, f"entry {expected_seq} is missing")
        if stored_prev != prev:
            return AuditReport(False, entries, len(logged), seq, "does not link to the entry before it")
        if chain_hash(prev, seq, at, actor, action, target, detail) != stored_hash:
            return AuditReport(False, entries, len(logged), seq, "entry altered (hash mismatch)")
        if action == "event.stored":
            recorded = json.loads(detail).get("digest")
            actual = digests.get(target)
            if actual is None and target in purged:
                prev, expected_seq = stored_hash, seq + 1
                continue
            if actual is None:
                return AuditReport(False, entries, len(logged), seq, f"event {target} was deleted")
            if actual != recorded:
                return AuditReport(False, entries, len(logged), seq, f"event {target} was altered")
            logged.add(target)
        if action == "events.purged" and json.loads(detail).get("ids_sha256") != ids_digest(purges.get(seq, [])):
            return AuditReport(False, entries, len(logged), seq, "the list of purged events was altered")
        prev, expected_seq = stored_hash, seq + 1
    unlogged = digests.keys() - logged
    if unlogged:
        return AuditReport(False, entries, len(logged), 0,
                           f"{len(unlogged)} event(s) not in the audit log, e.g. {min(unlogged)}")
    return AuditReport(True, entries, len(logged))
