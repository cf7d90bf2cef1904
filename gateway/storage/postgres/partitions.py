"""PostgreSQL: the events table partitioned by kind and month, so retention drops whole partitions.

Each kind of event is kept for its own time (verdicts a year, exam records five
years), and counted from `retain_from` (the capture time, or the receipt time
when the device's clock was not trusted). So `events` is range-partitioned on
`(kind, retain_from)` with one partition per kind and calendar month (UTC):
`events_verdict_202611` holds the verdicts to be retained from November 2026.
Retention then detaches and drops a month whose end has passed the cut-off
instead of deleting its rows one by one, and what it dropped is recorded in the
audit chain exactly as a row-by-row purge is (`gateway.services.operations.retention`).

Partitions are made when the first event for them arrives, inside the write
transaction that stores it: writers hold the database's write lock, so two
replicas never race to create the same one. Timestamps are fixed-width UTC
text in the C collation, so the month is the first seven characters and text
order is time order.

A partition's primary key has to include the partitioning columns, so
PostgreSQL cannot itself refuse a second event with the same id in another
month; ingest's duplicate check runs under the write lock and is what keeps ids
(and each device's sequence numbers) unique, on every database alike.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, text

_BOUND = re.compile(r"FROM \('((?:[^']|'')*)', '(\d{4}-\d{2})'\) TO")


@dataclass(frozen=True)
class Partition:
    name: str
    kind: str
    month: str  # "2026-11": holds events retained from that month

    @property
    def end(self) -> str:
        """The first month after it ("2026-12"): every row in it has retain_from < end."""
        return next_month(self.month)


def month_of(timestamp: str) -> str:
    return timestamp[:7]


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def partition_name(kind: str, month: str) -> str:
    # Kinds come from the wire contract's fixed set ("verdict", "exam.flag", ...); a slug of one is unique.
    return f"events_{re.sub(r'[^a-z0-9]+', '_', kind.lower())[:40]}_{month.replace('-', '')}"


def create_partition_sql(kind: str, month: str) -> str:
    quoted = kind.replace("'", "''")
    return (f'CREATE TABLE IF NOT EXISTS "{partition_name(kind, month)}" PARTITION OF events '
            f"FOR VALUES FROM ('{quoted}', '{month}') TO ('{quoted}', '{next_month(month)}')")


def partitions(conn: Connection) -> list[Partition]:
    """Every partition of `events`, oldest month first."""
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"))
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append(Partition(name, match.group(1).replace("''", "'"), match.group(2)))
    return sorted(found, key=lambda p: (p.month, p.kind))


class EventPartitions:
    """Makes the partitions new events need, remembering which exist (one instance per database)."""

    def __init__(self) -> None:
        self._known: set[tuple[str, str]] | None = None
        self._lock = threading.Lock()

    def ensure(self, tx, kinds_months: set[tuple[str, str]]) -> None:
        """Create, in `tx`, the partitions for these (kind, month) pairs that do not exist yet."""
        with self._lock:
            if self._known is None:
                self._known = {(p.kind, p.month) for p in partitions(tx.conn)}
            missing = kinds_months - self._known
        for kind, month in sorted(missing):
            tx.conn.exec_driver_sql(create_partition_sql(kind, month))
        if missing:
            tx.after_commit(lambda: self._learn(missing))  # a rolled-back CREATE made nothing

    def forget(self, partition: Partition) -> None:
        with self._lock:
            if self._known is not None:
                self._known.discard((partition.kind, partition.month))

    def _learn(self, made: set[tuple[str, str]]) -> None:
        with self._lock:
            if self._known is not None:
                self._known |= made


def expired_partitions(conn: Connection, kind: str, before: str) -> list[Partition]:
    """The partitions of `kind` every row of which is retained from before `before`."""
    return [p for p in partitions(conn) if p.kind == kind and p.end <= before]


def drop_partition(conn: Connection, partition: Partition) -> list[str]:
    """Detach and drop `partition`; the ids of the events it held."""
    ids = [r[0] for r in conn.execute(text(f'SELECT id FROM "{partition.name}"'))]
    conn.exec_driver_sql(f'ALTER TABLE events DETACH PARTITION "{partition.name}"')
    conn.exec_driver_sql(f'DROP TABLE "{partition.name}"')
    return ids
