"""Withdrawal and expiry of consent, and the erasures they start.

When a subject's consent no longer covers a device's site and purpose, the
subject leaves that device's gallery; the erasure is tracked until every such
device confirms a gallery without them. When no live consent is left at all,
the subject's templates (and ID-card hash) are deleted centrally too.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gateway.audit import AuditEntry
from gateway.storage import Consent, Storage
from wire.events import utc_text


class ConsentError(ValueError):
    """The consent change cannot be made as asked."""


def _devices_losing(storage: Storage, subject: str, now: str) -> list[str]:
    """Devices holding (or maybe holding) the subject whose gallery must now lose them."""
    losing = []
    for device_id in storage.devices_holding(subject):
        device = storage.device(device_id)
        pack, _ = storage.device_secrets(device_id)
        if subject not in storage.gallery_members(device.site, device.kind, pack, now):
            losing.append(device_id)
    return losing


def grant(storage: Storage, subject: str, purpose: str, sites: list[str], notice_version: str, channel: str,
          expires_at: str | None = None, actor: str = "system") -> int:
    """Record another consent for an enrolled subject (e.g. `exam` for someone enrolled for `gate`); its id."""
    if not storage.subject_exists(subject):
        raise ConsentError(f"no subject {subject!r}")
    if purpose not in ("gate", "exam"):
        raise ConsentError(f"purpose must be gate or exam, not {purpose!r}")
    known = dict(storage.sites())
    unknown = [s for s in sites if s != "*" and s not in known]
    if unknown or not sites:
        raise ConsentError(f"unknown site(s): {', '.join(unknown) or '(none given)'}")
    now = utc_text(datetime.now(timezone.utc))
    if expires_at:
        try:
            parsed = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            raise ConsentError(f"expiry {expires_at!r} is not an ISO 8601 date") from None
        expires_at = utc_text(parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))
        if expires_at <= now:
            raise ConsentError(f"consent already expired ({expires_at})")
    consent = Consent(subject, purpose, sites, notice_version, channel, now, expires_at, actor)
    return storage.add_consent(consent, AuditEntry(now, actor, "consent.granted", subject,
                                                   {"purpose": purpose, "sites": sites}))


def withdraw(storage: Storage, subject: str, purpose: str | None = None, actor: str = "system") -> int | None:
    """Withdraw the subject's consent (one purpose, or all); the erasure id, or None if no device held them."""
    if not storage.subject_exists(subject):
        raise ConsentError(f"no subject {subject!r}")
    if purpose not in (None, "gate", "exam"):
        raise ConsentError(f"purpose must be gate or exam, not {purpose!r}")
    now = utc_text(datetime.now(timezone.utc))
    changed = storage.withdraw_consents(subject, purpose, now, AuditEntry(now, actor, "consent.withdrawn", subject,
                                                                          {"purpose": purpose or "all"}))
    if not changed:
        raise ConsentError(f"subject {subject!r} has no live consent{' for ' + purpose if purpose else ''}")
    return _erase(storage, subject, "consent withdrawn", now, actor)


def expire(storage: Storage, now: str | None = None, actor: str = "retention") -> list[int]:
    """Close consents past their expiry and erase accordingly; the erasures started."""
    now = now or utc_text(datetime.now(timezone.utc))
    erasures = []
    for consent_id, subject in storage.expired_consents(now):
        storage.close_consent(consent_id, now)
        storage.append_audit(AuditEntry(now, actor, "consent.expired", subject, {"consent": consent_id}))
        erasure = _erase(storage, subject, "consent expired", now, actor)
        if erasure is not None:
            erasures.append(erasure)
    return erasures


def _erase(storage: Storage, subject: str, reason: str, now: str, actor: str) -> int | None:
    devices = _devices_losing(storage, subject, now)
    deleted = subject in storage.delete_templates_without_consent(now)
    if not devices and not deleted:
        return None
    return storage.open_erasure(subject, reason + ("; templates deleted centrally" if deleted else ""), devices, now,
                                actor)
