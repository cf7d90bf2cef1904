"""The card reads kiosks are working on (migration 0007): one row from the page's request to the person's
answer, then deleted (gateway/services/people/kiosk.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from gateway.storage.schema import card_reads, events

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass
class CardReadRow:
    id: str
    site: str
    device: str
    requested_by: str
    requested_at: str
    purpose: str
    valid_until: str | None
    stage: str  # asked, read, face, failed
    updated_at: str
    outcome: str | None = None
    problems: list[str] = field(default_factory=list)
    passive: str | None = None
    name: str | None = None
    card_hash: str | None = None
    pack: str | None = None
    chip_template: bytes | None = None
    chip_quality: float | None = None
    live_template: bytes | None = None
    score: float | None = None
    threshold: float | None = None
    liveness: float | None = None
    events: list[str] = field(default_factory=list)
    card_expiry: str | None = None  # YYYY-MM-DD, from the sealed DG1
    mrz_name: str | None = None  # DG1's ASCII name, beside `name` (DG13's where the card has one)


_NAMES = [f.name for f in fields(CardReadRow)]
_JSON = ("problems", "events")


def _row(values) -> CardReadRow:
    data = dict(zip(_NAMES, values))
    for name in _JSON:
        data[name] = json.loads(data[name] or "[]")
    return CardReadRow(**data)


def _columns(values: dict) -> dict:
    return {k: json.dumps(v) if k in _JSON else v for k, v in values.items()}


class CardReads:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, read: CardReadRow) -> None:
        tx.execute(insert(card_reads).values(**_columns({n: getattr(read, n) for n in _NAMES})))

    def get(self, read: str, tx: Tx | None = None) -> CardReadRow | None:
        query = select(*(card_reads.c[n] for n in _NAMES)).where(card_reads.c.id == read)
        if tx is not None:
            row = tx.execute(query).first()
        else:
            with self.db.read() as conn:
                row = conn.execute(query).first()
        return _row(row) if row else None

    def update(self, tx: Tx, read: str, **values) -> None:
        tx.execute(update(card_reads).where(card_reads.c.id == read).values(**_columns(values)))

    def remove(self, tx: Tx, read: CardReadRow) -> None:
        """Delete the read and its card events: what the card gave is gone with them."""
        tx.execute(delete(card_reads).where(card_reads.c.id == read.id))
        if read.events:
            tx.execute(delete(events).where(events.c.kind == "card", events.c.id.in_(read.events)))

    def older_than(self, before: str) -> list[CardReadRow]:
        with self.db.read() as conn:
            rows = conn.execute(select(*(card_reads.c[n] for n in _NAMES)).where(card_reads.c.requested_at < before))
            return [_row(r) for r in rows]
