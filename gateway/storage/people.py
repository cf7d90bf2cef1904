"""People and their consent: sites, subjects, consents (with the sites each covers) and templates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from gateway.storage.schema import consent_sites, consents, sites, subjects, templates

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx

EVERY_SITE = "*"


@dataclass(frozen=True)
class Site:
    id: str
    name: str


@dataclass(frozen=True)
class Consent:
    subject: str
    purpose: str  # "gate" | "exam"
    sites: list[str]  # site ids, or ["*"] for every site
    notice_version: str
    channel: str  # how it was given: "counter", "kiosk", "online", ...
    granted_at: str
    expires_at: str | None
    recorded_by: str
    id: int | None = None
    withdrawn_at: str | None = None

    def live(self, now: str) -> bool:
        """Given, not withdrawn, not expired."""
        return self.withdrawn_at is None and self.granted_at <= now and (self.expires_at is None or self.expires_at > now)

    def covers(self, site: str, purpose: str, now: str) -> bool:
        """The rule galleries follow: a live consent for this purpose, at this site or at every site."""
        return self.live(now) and self.purpose == purpose and (site in self.sites or EVERY_SITE in self.sites)

    def api(self) -> dict:
        return {"id": self.id, "subject": self.subject, "purpose": self.purpose, "sites": self.sites,
                "notice_version": self.notice_version, "channel": self.channel, "granted_at": self.granted_at,
                "expires_at": self.expires_at, "withdrawn_at": self.withdrawn_at, "recorded_by": self.recorded_by}


@dataclass(frozen=True)
class Subject:
    id: str
    display_name: str
    id_card_hash: str | None  # keyed hash (HMAC-SHA256); the number itself is never stored
    created_at: str
    recorded_by: str
    packs: list[str] = field(default_factory=list)  # model packs it has templates for
    consents: list[Consent] = field(default_factory=list)

    def api(self) -> dict:
        """What the API shows of a subject: never the ID-card hash, never a template."""
        return {"id": self.id, "display_name": self.display_name, "created_at": self.created_at,
                "packs": self.packs, "consents": [c.api() for c in self.consents]}


_CONSENT = (consents.c.subject, consents.c.purpose, consents.c.sites, consents.c.notice_version, consents.c.channel,
            consents.c.granted_at, consents.c.expires_at, consents.c.recorded_by, consents.c.id,
            consents.c.withdrawn_at)


def _consent(row) -> Consent:
    values = list(row)
    values[2] = json.loads(values[2] or "[]")
    return Consent(*values)


class People:
    def __init__(self, db: Database):
        self.db = db

    # -- sites ------------------------------------------------------------------------------------------

    def add_site(self, tx: Tx, site: str, name: str) -> None:
        tx.execute(insert(sites).values(id=site, name=name, created_at=tx.now))

    def sites(self) -> list[Site]:
        with self.db.read() as conn:
            return [Site(*r) for r in conn.execute(select(sites.c.id, sites.c.name).order_by(sites.c.id))]

    def site_ids(self) -> set[str]:
        return {s.id for s in self.sites()}

    # -- subjects and templates -------------------------------------------------------------------------

    def add_subject(self, tx: Tx, subject: Subject, templates_by_pack: dict[str, tuple[bytes, float]]) -> None:
        tx.execute(insert(subjects).values(id=subject.id, display_name=subject.display_name,
                                           id_card_hash=subject.id_card_hash, created_at=subject.created_at,
                                           recorded_by=subject.recorded_by))
        tx.execute(insert(templates), [{"subject": subject.id, "pack": pack, "embedding": embedding, "quality": q,
                                        "created_at": subject.created_at}
                                       for pack, (embedding, q) in templates_by_pack.items()])

    def subject_exists(self, subject: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(subjects.c.id).where(subjects.c.id == subject)).first() is not None

    def display_name(self, subject: str) -> str | None:
        """The subject's name as enrolled (any script); None for no such subject."""
        with self.db.read() as conn:
            row = conn.execute(select(subjects.c.display_name).where(subjects.c.id == subject)).first()
        return row[0] if row else None

    def subject_by_card(self, id_card_hash: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute(select(subjects.c.id).where(subjects.c.id_card_hash == id_card_hash)).first()
        return row[0] if row else None

    def subjects(self, search: str | None = None, limit: int | None = None, offset: int = 0) -> list[Subject]:
        """Subjects with their packs and consents, by id: every one, or those whose id or name holds `search`
        (letters' case aside), `limit` of them from `offset`."""
        query = select(subjects.c.id, subjects.c.display_name, subjects.c.created_at, subjects.c.recorded_by) \
            .order_by(subjects.c.id).offset(offset).limit(limit)
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(func.lower(subjects.c.id).like(pattern, escape="\\")
                                | func.lower(subjects.c.display_name).like(pattern, escape="\\"))
        with self.db.read() as conn:
            rows = conn.execute(query).fetchall()
            ids = [r[0] for r in rows]
            chosen = None if search is None and limit is None else ids
            by_subject: dict[str, list[Consent]] = {}
            consent_query = select(*_CONSENT).order_by(consents.c.id)
            pack_query = select(templates.c.subject, templates.c.pack).order_by(templates.c.pack)
            if chosen is not None:
                consent_query = consent_query.where(consents.c.subject.in_(chosen))
                pack_query = pack_query.where(templates.c.subject.in_(chosen))
            for row in conn.execute(consent_query):
                consent = _consent(row)
                by_subject.setdefault(consent.subject, []).append(consent)
            packs: dict[str, list[str]] = {}
            for subject, pack in conn.execute(pack_query):
                packs.setdefault(subject, []).append(pack)
            return [Subject(id_, name, None, created, by, packs.get(id_, []), by_subject.get(id_, []))
                    for id_, name, created, by in rows]

    def templates(self, pack: str) -> tuple[list[str], list[bytes]]:
        """(subjects, embeddings) of every template made with `pack`."""
        with self.db.read() as conn:
            rows = conn.execute(select(templates.c.subject, templates.c.embedding)
                                .where(templates.c.pack == pack).order_by(templates.c.subject)).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def delete_templates(self, tx: Tx, subject: str) -> bool:
        """Erase the subject's templates and ID-card hash centrally; whether there were any."""
        gone = tx.execute(delete(templates).where(templates.c.subject == subject)).rowcount
        tx.execute(update(subjects).where(subjects.c.id == subject).values(id_card_hash=None))
        return gone > 0

    # -- consents ---------------------------------------------------------------------------------------

    def add_consent(self, tx: Tx, consent: Consent) -> int:
        consent_id = tx.execute(insert(consents).values(
            subject=consent.subject, purpose=consent.purpose, sites=json.dumps(consent.sites),
            notice_version=consent.notice_version, channel=consent.channel, granted_at=consent.granted_at,
            expires_at=consent.expires_at, recorded_by=consent.recorded_by)).inserted_primary_key[0]
        tx.execute(insert(consent_sites), [{"consent": consent_id, "site": s} for s in sorted(set(consent.sites))])
        return consent_id

    def consents_of(self, subject: str) -> list[Consent]:
        with self.db.read() as conn:
            return [_consent(r) for r in conn.execute(select(*_CONSENT).where(consents.c.subject == subject)
                                                      .order_by(consents.c.id))]

    def set_consent_expiry(self, tx: Tx, consent_id: int, expires_at: str | None) -> None:
        """A consent runs to `expires_at` now (None: no end)."""
        tx.execute(update(consents).where(consents.c.id == consent_id).values(expires_at=expires_at))

    def close_consents(self, tx: Tx, ids: list[int]) -> None:
        """Mark these consents withdrawn (or expired) as of now."""
        if ids:
            tx.execute(update(consents).where(consents.c.id.in_(ids)).values(withdrawn_at=tx.now))

    def open_consents(self, tx: Tx | None = None) -> list[Consent]:
        """Consents not yet closed (some may have passed their expiry: see `Consent.live`)."""
        query = select(*_CONSENT).where(consents.c.withdrawn_at.is_(None)).order_by(consents.c.id)
        if tx is not None:
            return [_consent(r) for r in tx.execute(query)]
        with self.db.read() as conn:
            return [_consent(r) for r in conn.execute(query)]

    def members(self, site: str, purpose: str, pack: str, now: str) -> dict[str, bytes]:
        """subject -> template of everyone whose consent covers this site and purpose (`Consent.covers`)."""
        return self.templates_of(pack, self.member_ids(site, purpose, now))

    def member_ids(self, site: str, purpose: str, now: str) -> list[str]:
        """The subjects (sorted) whose consent covers this site and purpose at `now` (`Consent.covers`)."""
        # The indexes narrow to open consents naming this purpose and site; the rule itself is Consent.covers.
        candidates = (select(*_CONSENT).join(consent_sites, consent_sites.c.consent == consents.c.id)
                      .where(consents.c.purpose == purpose, consents.c.withdrawn_at.is_(None),
                             consent_sites.c.site.in_([site, EVERY_SITE])))
        with self.db.read() as conn:
            return sorted({c.subject for c in map(_consent, conn.execute(candidates)) if c.covers(site, purpose, now)})

    def with_template(self, pack: str, subjects: list[str]) -> list[str]:
        """Those of `subjects` (sorted) who have a template in `pack`."""
        with self.db.read() as conn:
            return sorted(subject for start in range(0, len(subjects), 500) for (subject,) in conn.execute(
                select(templates.c.subject).where(templates.c.pack == pack,
                                                  templates.c.subject.in_(subjects[start:start + 500]))))

    def templates_of(self, pack: str, subjects: list[str]) -> dict[str, bytes]:
        """subject -> template in `pack`, for those of `subjects` who have one."""
        with self.db.read() as conn:
            return {subject: embedding for start in range(0, len(subjects), 500) for subject, embedding in conn.execute(
                select(templates.c.subject, templates.c.embedding).where(
                    templates.c.pack == pack, templates.c.subject.in_(subjects[start:start + 500])))}
