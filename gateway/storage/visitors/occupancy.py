"""How many people are inside each site, per local day, and how many may be (migration 0016)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from gateway.storage.schema import occupancy, sites

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class SiteOccupancy:
    site: str
    day: str  # YYYY-MM-DD on the site's clock
    inside: int
    peak: int  # the day's most inside at once
    capacity: int | None  # None: no limit
    updated_at: str | None  # None: nobody counted yet that day

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.inside >= self.capacity


class Occupancy:
    def __init__(self, db: Database):
        self.db = db

    def of(self, site: str, day: str, tx: Tx | None = None) -> SiteOccupancy | None:
        """The site's count on `day` (0 inside if nobody was counted yet); None for an unknown site."""
        query = (select(sites.c.id, sites.c.capacity, occupancy.c.inside, occupancy.c.peak, occupancy.c.updated_at)
                 .select_from(sites.outerjoin(occupancy, (occupancy.c.site == sites.c.id) & (occupancy.c.day == day)))
                 .where(sites.c.id == site))
        if tx is not None:
            row = tx.execute(query).first()
        else:
            with self.db.read() as conn:
                row = conn.execute(query).first()
        if row is None:
            return None
        return SiteOccupancy(row[0], day, row[2] or 0, row[3] or 0, row[1], row[4])

    def all_sites(self, day: str) -> list[SiteOccupancy]:
        """Every site's count on `day`, by site."""
        query = (select(sites.c.id, sites.c.capacity, occupancy.c.inside, occupancy.c.peak, occupancy.c.updated_at)
                 .select_from(sites.outerjoin(occupancy, (occupancy.c.site == sites.c.id) & (occupancy.c.day == day)))
                 .order_by(sites.c.id))
        with self.db.read() as conn:
            return [SiteOccupancy(r[0], day, r[2] or 0, r[3] or 0, r[1], r[4]) for r in conn.execute(query)]

    def set_inside(self, tx: Tx, site: str, day: str, inside: int, peak: int = 0) -> None:
        """The count on `day` is `inside` now; the day's peak follows it (and `peak`, one reached on the way) up,
        never down."""
        row = tx.execute(select(occupancy.c.peak).where(occupancy.c.site == site, occupancy.c.day == day)).first()
        highest = max(inside, peak, row[0] if row else 0)
        if row is None:
            tx.execute(insert(occupancy).values(site=site, day=day, inside=inside, peak=highest, updated_at=tx.now))
        else:
            tx.execute(update(occupancy).where(occupancy.c.site == site, occupancy.c.day == day)
                       .values(inside=inside, peak=highest, updated_at=tx.now))

    def set_capacity(self, tx: Tx, site: str, capacity: int | None) -> None:
        tx.execute(update(sites).where(sites.c.id == site).values(capacity=capacity))

    def peaks(self, site: str | None, first_day: str, last_day: str) -> list[SiteOccupancy]:
        """Each counted day's figures from `first_day` to `last_day` (included), by site and day."""
        query = (select(occupancy.c.site, occupancy.c.day, occupancy.c.inside, occupancy.c.peak, sites.c.capacity,
                        occupancy.c.updated_at).join(sites, sites.c.id == occupancy.c.site)
                 .where(occupancy.c.day >= first_day, occupancy.c.day <= last_day)
                 .order_by(occupancy.c.site, occupancy.c.day))
        if site is not None:
            query = query.where(occupancy.c.site == site)
        with self.db.read() as conn:
            return [SiteOccupancy(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(query)]
