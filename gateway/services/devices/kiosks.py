"""Kiosks as the counter runs them (issue 26): each provisioned with a login of its own, and set up by staff --
what it enrols visitors for (the gates or the exam) and until when their consent runs -- so that the visitor,
signed in as nobody but the kiosk, decides nothing but their own answer.

The ticket's end is a number of days: the consent ends at 23:59 on the site's clock that many days after today
(0: a day ticket). It is worked out when the read is asked for, so a kiosk left on overnight gives the next day's
visitors the next day's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from gateway.errors import Conflict, Invalid
from gateway.services.broker.mosquitto import BrokerFiles
from gateway.services.devices.registry import provision_device
from gateway.services.people.consent import check_consent_fields
from gateway.services.security.auth import KIOSK, MIN_PASSWORD_LENGTH, Auth
from gateway.services.security.pki import CertificateAuthority
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Device, KioskSettingsRow, Store
from wire.bundle import DeviceBundle
from wire.events import utc_text

DEFAULT_PURPOSE, DEFAULT_TICKET_DAYS = "gate", 0
MODES = ("enrol", "checkin")  # enrol visitors; or check an exam room's listed candidates in at its door
BASES = ("consent", "exam_rules")  # checkin: the candidate answers the exam notice, or the exam rules are the basis


@dataclass(frozen=True)
class KioskSetup:
    """A kiosk as a visitor meets it: where it is, whether its device is there, and what it enrols for."""

    device: str
    site: str
    online: bool
    purpose: str
    ticket_days: int
    valid_until: str  # the consent's end for a visitor who starts now
    updated_by: str | None
    updated_at: str | None
    mode: str = "enrol"
    room: str | None = None  # checkin: the room whose candidates it checks in (None: every room)
    basis: str = "consent"  # checkin: the legal basis the centre chose


def _kiosk(store: Store, device_id: str) -> Device:
    device = store.devices.get(device_id)
    if device is None or device.kind != "kiosk" or not device.active:
        raise Invalid("{device} is not an active kiosk", device=device_id)
    return device


def ticket_end(ticket_days: int, zone: str, now: datetime | None = None) -> str:
    """23:59 on the site's clock, `ticket_days` after today there, as stored UTC text."""
    tz = ZoneInfo(zone)
    day = (now or datetime.now(timezone.utc)).astimezone(tz).date() + timedelta(days=ticket_days)
    return utc_text(datetime.combine(day, time(23, 59), tz).astimezone(timezone.utc))


def kiosk_setup(store: Store, device_id: str, zone: str, now: datetime | None = None) -> KioskSetup:
    """Kiosk `device_id` as it stands (the defaults until staff set it up: the gates, a day ticket)."""
    device = _kiosk(store, device_id)
    row = store.kiosks.get(device.id)
    purpose, days = (row.purpose, row.ticket_days) if row else (DEFAULT_PURPOSE, DEFAULT_TICKET_DAYS)
    return KioskSetup(device.id, device.site, device.online and device.active, purpose, days,
                      ticket_end(days, zone, now), row.updated_by if row else None, row.updated_at if row else None,
                      (row.mode if row else None) or "enrol", row.room if row else None,
                      (row.basis if row else None) or "consent")


def _check_setup(store: Store, site: str, purpose: str, ticket_days: int, max_validity_days: int,
                 mode: str = "enrol", basis: str = "consent") -> None:
    check_consent_fields(store, purpose, [site])
    if not 0 <= ticket_days <= max_validity_days:
        raise Invalid("a kiosk's ticket lasts 0 to {days} days (0: until 23:59 today)", days=max_validity_days)
    if mode not in MODES or basis not in BASES:
        raise Invalid("a kiosk enrols or checks in ('enrol', 'checkin'), on consent or the exam rules")
    if mode == "checkin" and purpose != "exam":
        raise Invalid("a kiosk checks candidates in for the exam only: set its purpose to 'exam'")


def set_up_kiosk(store: Store, device_id: str, purpose: str, ticket_days: int, actor: str, zone: str,
                 max_validity_days: int = 366, mode: str = "enrol", room: str | None = None,
                 basis: str = "consent") -> KioskSetup:
    """What kiosk `device_id` does for its next visitors -- enrols them for a purpose, or checks an exam room's
    candidates in at its door (`mode` checkin, for `room` or every room, on `basis`); audited with what it was
    before."""
    device = _kiosk(store, device_id)
    _check_setup(store, device.site, purpose, ticket_days, max_validity_days, mode, basis)
    before = store.kiosks.get(device.id)
    room = (room or "").strip() or None
    with store.db.transaction() as tx:
        store.kiosks.put(tx, KioskSettingsRow(device.id, purpose, ticket_days, actor, tx.now, mode, room, basis))
        tx.audit(actor, "kiosk.set_up", device.id, {"purpose": purpose, "ticket_days": ticket_days, "mode": mode,
                                                    "room": room, "basis": basis} | (
            {"before": {"purpose": before.purpose, "ticket_days": before.ticket_days, "mode": before.mode,
                        "room": before.room, "basis": before.basis}} if before else {}))
    return kiosk_setup(store, device.id, zone)


def provision_kiosk(store: Store, auth: Auth, broker: BrokerFiles, secrets: GatewaySecrets, *, site: str,
                    device: str, password: str, purpose: str, ticket_days: int, broker_url: str, actor: str,
                    zone: str, ca: CertificateAuthority | None = None,
                    max_validity_days: int = 366) -> DeviceBundle:
    """A kiosk device, its login (named as the device, `password` typed by the admin) and its set-up, in one
    go; the device's bundle (secret: it goes to the kiosk, no copy is kept). The login and the set-up are checked
    before anything is made."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password must have at least {n} characters", n=MIN_PASSWORD_LENGTH)
    if auth.store.users.get(device) is not None:
        raise Conflict("user '{name}' already exists", name=device)
    _check_setup(store, site, purpose, ticket_days, max_validity_days)
    bundle = provision_device(store, broker, secrets, site=site, device=device, kind="kiosk", broker_url=broker_url,
                              actor=actor, ca=ca)
    auth.add_user(device, KIOSK, password, actor=actor, device=device)
    set_up_kiosk(store, device, purpose, ticket_days, actor, zone, max_validity_days)
    return bundle
