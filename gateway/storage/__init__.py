"""The gateway's storage: one repository per aggregate over one database.

    store = Store.open("var/gateway.db")        # or a postgresql:// URL; migrates to the current schema
    with store.db.transaction() as tx:          # one change, recorded in the audit chain
        store.people.add_site(tx, "hoi-an", "Hội An old town")
        tx.audit("user:ana", "site.added", "hoi-an")

Repositories hold the SQL and return their own record types; the rules (who
may, what follows from what) are in `gateway.services`.
"""

from __future__ import annotations

from pathlib import Path

from gateway.storage.audit import AuditEntry, AuditLog, AuditQuery, AuditRow
from gateway.storage.exams.candidates import Candidates, ExamCandidate
from gateway.storage.card_reads import CardReadRow, CardReads
from gateway.storage.database import Database, SchemaTooNew, Tx, UnauditedChange
from gateway.storage.device_configs import ConfigVersion, DeviceConfigs
from gateway.storage.devices import Device, Devices
from gateway.storage.events import EventQuery, Events, QuarantinedMessage, StoredEvent
from gateway.storage.exams.sessions import Evidence, ExamFlag, Exams, ExamSession
from gateway.storage.follow_up import Acknowledgement, FollowUps
from gateway.storage.galleries import Erasure, Galleries, GalleryVersion
from gateway.storage.kiosks import Kiosks, KioskSettingsRow
from gateway.storage.visitors.occupancy import Occupancy, SiteOccupancy
from gateway.storage.visitors.passes import Pass, Passes
from gateway.storage.people import Consent, People, Site, Subject
from gateway.storage.updates import DeviceUpdate, PackVersion, ReleaseVersion, Rollout, Updates
from gateway.storage.visitors.ticket_types import TicketType, TicketTypes
from gateway.storage.users import Session, User, Users
from gateway.storage.visitors.visits import VisitCount, Visits


class Store:
    """Every repository, over one database."""

    def __init__(self, db: Database):
        self.db = db
        self.audit = AuditLog(db)
        self.candidates = Candidates(db)
        self.card_reads = CardReads(db)
        self.devices = Devices(db)
        self.device_configs = DeviceConfigs(db)
        self.events = Events(db)
        self.exams = Exams(db)
        self.follow_ups = FollowUps(db)
        self.galleries = Galleries(db)
        self.kiosks = Kiosks(db)
        self.occupancy = Occupancy(db)
        self.passes = Passes(db)
        self.people = People(db)
        self.ticket_types = TicketTypes(db)
        self.updates = Updates(db)
        self.users = Users(db)
        self.visits = Visits(db)

    @classmethod
    def open(cls, location: Path | str) -> Store:
        """The store at an SQLite file's path or a PostgreSQL URL."""
        return cls(Database(location))

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    @property
    def name(self) -> str:
        """Where the data is, for messages: the path, or the URL without its password."""
        return self.db.name


__all__ = [
    "Acknowledgement", "AuditEntry", "AuditLog", "AuditQuery", "AuditRow", "Candidates", "CardReadRow", "CardReads", "ConfigVersion", "Consent", "Database", "Device", "DeviceConfigs", "DeviceUpdate", "Devices", "Erasure",
    "EventQuery", "Events",
    "Evidence", "ExamCandidate", "ExamFlag", "ExamSession", "Exams", "FollowUps", "Galleries", "GalleryVersion", "KioskSettingsRow",
    "Kiosks", "Occupancy", "PackVersion", "Pass", "Passes", "People", "QuarantinedMessage", "ReleaseVersion", "Rollout",
    "SchemaTooNew", "Session", "Site", "SiteOccupancy", "Store", "StoredEvent", "Subject", "TicketType", "TicketTypes", "Tx", "UnauditedChange", "Updates", "User", "Users", "VisitCount", "Visits",
]
