"""What each kiosk enrols visitors for (migration 0010): its purpose and the ticket's days, set by staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from gateway.storage.schema import kiosk_settings

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class KioskSettingsRow:
    device: str
    purpose: str  # gate or exam
    ticket_days: int  # the consent ends at 23:59 on the site's clock, this many days after today
    updated_by: str
    updated_at: str
    mode: str | None = None  # "enrol" (None: set up before 0012) or "checkin": an exam room's door
    room: str | None = None  # checkin: the room it serves (None: every room)
    basis: str | None = None  # checkin: "consent" or "exam_rules"


class Kiosks:
    """Kiosk settings by device (one row each; none: the defaults)."""

    def __init__(self, db: Database):
        self.db = db

    def get(self, device: str) -> KioskSettingsRow | None:
        with self.db.read() as conn:
            row = conn.execute(select(kiosk_settings).where(kiosk_settings.c.device == device)).first()
        return KioskSettingsRow(*row) if row else None

    def put(self, tx: Tx, row: KioskSettingsRow) -> None:
        tx.execute(delete(kiosk_settings).where(kiosk_settings.c.device == row.device))
        tx.execute(insert(kiosk_settings).values(device=row.device, purpose=row.purpose, ticket_days=row.ticket_days,
                                                 updated_by=row.updated_by, updated_at=row.updated_at,
                                                 mode=row.mode, room=row.room, basis=row.basis))
