"""The gates' verdicts counted by hour (migration 0017): what the day in numbers reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from gateway.storage.schema import visits

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class VisitCount:
    site: str
    device: str
    hour: str  # UTC, "YYYY-MM-DDTHH"
    verdict: str
    direction: str  # "in", "out" or ""
    method: str  # "face" or "qr"
    ticket_type: str  # "" for none
    count: int

    @property
    def key(self) -> tuple:
        return self.site, self.device, self.hour, self.verdict, self.direction, self.method, self.ticket_type


_KEY = (visits.c.site, visits.c.device, visits.c.hour, visits.c.verdict, visits.c.direction, visits.c.method,
        visits.c.ticket_type)


class Visits:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, counts: list[VisitCount]) -> None:
        """Add a batch's counts (one per key) to what is counted."""
        for c in counts:
            where = [column == value for column, value in zip(_KEY, c.key)]
            if tx.execute(update(visits).where(*where).values(count=visits.c.count + c.count)).rowcount == 0:
                tx.execute(insert(visits).values(dict(zip([col.name for col in _KEY], c.key), count=c.count)))

    def summed(self, first_hour: str, end_hour: str, site: str | None, by: tuple[str, ...],
               entering: bool = False) -> list[tuple]:
        """The counts from `first_hour` to before `end_hour` added up by the columns `by` (each row: their values,
        then the sum), the database doing the adding; `entering`: only those let in on a lane not leading out."""
        columns = [visits.c[name] for name in by]
        query = select(*columns, func.sum(visits.c.count)).where(visits.c.hour >= first_hour,
                                                                 visits.c.hour < end_hour).group_by(*columns)
        if site is not None:
            query = query.where(visits.c.site == site)
        if entering:
            query = query.where(visits.c.verdict == "granted", visits.c.direction != "out")
        with self.db.read() as conn:
            return [(*row[:-1], int(row[-1])) for row in conn.execute(query)]
