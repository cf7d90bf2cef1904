"""Granting, withdrawing and expiring consent, and the erasures that follow.

The rule: a subject belongs in a device's gallery while one of their live
consents covers the device's purpose (its kind) and site (`covered`). When
that stops -- withdrawal or expiry -- the subject leaves every such gallery and
an erasure is tracked until each device confirms a gallery without them. When
no live consent is left at all, their templates and ID-card hash are deleted
centrally too. Each change and its erasure are one transaction, audited.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gateway.errors import Conflict, Invalid, NotFound
from gateway.storage import Consent, Device, Store, Tx
from gateway.storage.people import EVERY_SITE
from wire.events import utc_text
from wire.names import PURPOSES


def covered(consents: list[Consent], site: str, purpose: str, now: str) -> bool:
    """Whether any of these consents covers `purpose` at `site` at `now` (the rule: `Consent.covers`)."""
    return any(c.covers(site, purpose, now) for c in consents)


def parse_expiry(expires_at: str | None, now: str) -> str | None:
    """An ISO 8601 expiry in the stored form (UTC if no zone given); Invalid if unreadable or already past."""
    if not expires_at:
        return None
    try:
        parsed = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("expiry '{expiry}' is not an ISO 8601 date", expiry=expires_at) from None
    text = utc_text(parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))
    if text <= now:
        raise Invalid("consent already expired ({when})", when=text)
    return text


def check_consent_fields(store: Store, purpose: str, sites: list[str]) -> None:
    if purpose not in PURPOSES:
        raise Invalid("purpose must be gate or exam, not '{purpose}'", purpose=purpose)
    known = store.people.site_ids()
    unknown = [s for s in sites if s != EVERY_SITE and s not in known]
    if unknown or not sites:
        raise Invalid("unknown site(s): {sites}", sites=", ".join(unknown) or "(none given)")


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def grant(store: Store, subject: str, purpose: str, sites: list[str], notice_version: str, channel: str,
          expires_at: str | None = None, actor: str = "system") -> int:
    """Record another consent for an enrolled subject (e.g. `exam` for someone enrolled for `gate`); its id."""
    if not store.people.subject_exists(subject):
        raise NotFound("no subject '{subject}'", subject=subject)
    check_consent_fields(store, purpose, sites)
    now = _now()
    consent = Consent(subject, purpose, sites, notice_version, channel, now, parse_expiry(expires_at, now), actor)
    with store.db.transaction() as tx:
        consent_id = store.people.add_consent(tx, consent)
        tx.audit(actor, "consent.granted", subject, {"purpose": purpose, "sites": sites, "consent": consent_id})
    return consent_id


def withdraw(store: Store, subject: str, purpose: str | None = None, actor: str = "system") -> int | None:
    """Withdraw the subject's consent (one purpose, or all); the erasure id, or None if no device held them."""
    if not store.people.subject_exists(subject):
        raise NotFound("no subject '{subject}'", subject=subject)
    if purpose not in (None, *PURPOSES):
        raise Invalid("purpose must be gate or exam, not '{purpose}'", purpose=purpose)
    consents = store.people.consents_of(subject)
    closing = [c for c in consents if c.withdrawn_at is None and purpose in (None, c.purpose)]
    if not closing:
        if purpose:
            raise Conflict("subject '{subject}' has no live consent for {purpose}", subject=subject, purpose=purpose)
        raise Conflict("subject '{subject}' has no live consent", subject=subject)
    with store.db.transaction() as tx:
        store.people.close_consents(tx, [c.id for c in closing])
        tx.audit(actor, "consent.withdrawn", subject, {"purpose": purpose or "all"})
        return _erase(store, tx, subject, [c for c in consents if c not in closing], "consent withdrawn", actor)


def expire(store: Store, actor: str = "retention") -> list[int]:
    """Close consents past their expiry and erase accordingly; the erasures started."""
    now = _now()
    expired: dict[str, list[Consent]] = {}
    for consent in store.people.open_consents():
        if consent.expires_at is not None and consent.expires_at <= now:
            expired.setdefault(consent.subject, []).append(consent)
    erasures = []
    for subject, closing in expired.items():
        remaining = [c for c in store.people.consents_of(subject) if c.id not in {x.id for x in closing}]
        with store.db.transaction() as tx:
            store.people.close_consents(tx, [c.id for c in closing])
            for consent in closing:
                tx.audit(actor, "consent.expired", subject, {"consent": consent.id})
            erasure = _erase(store, tx, subject, remaining, "consent expired", actor)
        if erasure is not None:
            erasures.append(erasure)
    return erasures


def devices_holding(store: Store, subject: str) -> list[Device]:
    """Devices that hold the subject, or may: their newest gallery, or the newest they confirmed, lists them."""
    return [d for d in store.devices.all()
            if subject in store.galleries.latest(d.id).members or subject in store.galleries.latest_applied(d.id).members]


def _erase(store: Store, tx: Tx, subject: str, remaining: list[Consent], reason: str, actor: str) -> int | None:
    """Start the erasure the subject's remaining consents call for, in `tx`; its id, or None if none is needed."""
    live = [c for c in remaining if c.live(tx.now)]
    losing = [d for d in devices_holding(store, subject) if not covered(live, d.site, d.kind, tx.now)]
    deleted = store.people.delete_templates(tx, subject) if not live else False
    if not losing and not deleted:
        return None
    erasure = store.galleries.open_erasure(tx, subject, reason + ("; templates deleted centrally" if deleted else ""),
                                           actor)
    for device in losing:
        # If the device's newest gallery already leaves the subject out, that is the version to confirm.
        newest = store.galleries.latest(device.id)
        version = newest.version if newest.version and subject not in newest.members else None
        store.galleries.add_erasure_device(tx, erasure, device.id, version)
    if not losing:
        store.galleries.complete(tx, erasure)
    tx.audit(actor, "erasure.requested", subject,
             {"erasure": erasure, "reason": reason, "devices": [d.id for d in losing]})
    return erasure
