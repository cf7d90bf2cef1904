"""Operators' follow-up of the verdicts that need a person: who acknowledged which, when, and what they noted."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from gateway.storage.schema import acknowledgements

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class Acknowledgement:
    event: str
    site: str
    device: str
    by: str
    at: str
    note: str

    def api(self) -> dict:
        return asdict(self)


class FollowUps:
    def __init__(self, db: Database):
        self.db = db

    def get(self, tx: Tx, event: str) -> Acknowledgement | None:
        row = tx.execute(select(acknowledgements).where(acknowledgements.c.event == event)).first()
        return Acknowledgement(*row) if row else None

    def acknowledge(self, tx: Tx, ack: Acknowledgement) -> None:
        tx.execute(insert(acknowledgements).values(**asdict(ack)))

    def of_events(self, events: list[str]) -> dict[str, Acknowledgement]:
        """The acknowledgements of these events (those that have one), by event id."""
        if not events:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(select(acknowledgements).where(acknowledgements.c.event.in_(events)))
            return {r[0]: Acknowledgement(*r) for r in rows}

    def purge(self, tx: Tx, events: list[str]) -> None:
        """Forget the acknowledgements of purged events (their evidence went with them)."""
        if events:
            tx.execute(delete(acknowledgements).where(acknowledgements.c.event.in_(events)))
