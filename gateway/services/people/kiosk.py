"""Self-enrolment at a kiosk from the chip ID card (issue 15): the gateway's half.

The kiosk page asks a kiosk device to read a card (`request_read`: audited, then a signed `cmd/card`); the
device reports each stage in `card` events, which ingest hands to `project`:

- `read`: the gateway opens the sealed DG1 and EF.SOD (and DG13, where EF.SOD covers it) and runs passive
  authentication itself, against the trust store the admin installed (the device has none): the outcome and the
  card number's keyed hash are audited (`card.read`), the name kept for the consent screen -- as the card writes
  it (DG13, diacritics and all), DG1's ASCII one beside it;
- `face`: the 1:1 score of the live face against the chip portrait, and the live template;
- `failed`: why the read ended (wrong MRZ, card taken away, ...), audited too.

The person then answers on the consent screen (`decide`). The kiosk is trusted to have read the card on its
reader and to have taken the live template from the camera before it -- nothing more. On "I agree" the gateway
decides from what it opened itself (`may_enrol`): passive authentication of the sealed files against its own
trust store, the card's expiry from the sealed DG1 against its own date, the cosine between the two sealed
templates against the pack's 1:1 threshold, and the liveness score against its own minimum. What the kiosk
claimed (outcome, score, threshold) is kept beside and audited, never trusted. Only for a card that is genuine
(or from an untrusted issuer where the site allows it) whose portrait matched the live face is the person
enrolled -- one template fused from the live and the chip faces, the consent with the ticket's validity, the
card number as its keyed hash, the DG1 name -- or, for a card already enrolled, their consent is extended.
Either way, and on "no", the read and its card events are deleted: no portrait (it never left the kiosk), no
MRZ. `purge` deletes reads nobody answered after `read_ttl_s`.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from emrtd.checks.clones import CLONE_SUSPECTED, PASSED
from emrtd.checks.passive import EXPIRED_DOCUMENT, GENUINE, TAMPERED, UNTRUSTED_ISSUER, expiry_date
from emrtd.checks.passive import authenticate as passive_authentication
from emrtd.checks.trust import TrustStore
from emrtd.files.dg1 import parse_dg1
from emrtd.files.dg13 import full_name
from emrtd.files.sod import parse_sod
from emrtd.opening.bac import mrz_information
from gateway.config import KioskSettings
from gateway.errors import Conflict, DeviceOffline, Invalid, NotFound, Unavailable
from gateway.i18n import N_
from gateway.services.devices.kiosks import kiosk_setup
from gateway.services.exams.sessions import Refused
from gateway.services.people.consent import check_consent_fields, parse_expiry
from gateway.services.people.enrolment import Enroller, EnrolmentRequest
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import CardReadRow, Consent, Store, StoredEvent, Tx
from gateway.storage.audit import ids_digest
from models.manifest import ModelFileError, load_manifest
from models.photos import Template
from models.quality import QualitySettings
from wire import DeviceKey, uuid7
from wire.commands import CARD, CardDetails, CardReadCommand, seal_card_details, sign_command
from wire.events import utc_text
from wire.evidence import EvidenceError, open_sealed
from wire.topics import cmd_topic

Send = Callable[[str, bytes], bool]
READ_FAILURES = ("refused", "interrupted", "unreadable", "portrait_unusable", "busy")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def request_read(store: Store, send: Send | None, signing_key: DeviceKey | None, device_id: str,
                 document: str | None, birth: str | None, expiry: str | None, purpose: str | None,
                 valid_until: str | None, user: str, zone: str, max_validity_days: int = 366,
                 listed: list[str] | None = None) -> CardReadRow:
    """Ask kiosk `device_id` to read the card on its reader, with the card's details typed -- or with none: the
    kiosk takes them from the card's QR code. The new read. The purpose is the kiosk's set-up's, and so is the
    consent's end unless staff give one (`valid_until`: a kiosk's own login cannot). Invalid for a mistyped field
    (named), a device that is not an active kiosk, a purpose other than the set-up's, or an end more than
    `max_validity_days` from now; DeviceOffline if the kiosk device is not connected. Audited before the
    command leaves. `listed`: the keys ("DOC,BIRTH,EXPIRY") of the candidates an exam room's door expects, which the
    kiosk tries instead (gateway/services/exams/checkin.py)."""
    setup = kiosk_setup(store, device_id, zone)
    device = store.devices.get(device_id)
    typed = (document, birth, expiry) != (None, None, None)
    document = (document or "").strip().upper()
    try:
        if typed:
            mrz_information(document, birth or "", expiry or "")
    except ValueError:
        raise Invalid("the card's details are not well formed: the document number is up to 9 letters and digits, "
                      "the dates are 6 digits (YYMMDD)") from None
    if purpose is not None and purpose != setup.purpose:
        raise Invalid("this kiosk is set up to enrol for '{setup}', not '{purpose}': change its set-up first",
                      setup=setup.purpose, purpose=purpose)
    purpose = setup.purpose
    check_consent_fields(store, purpose, [device.site])
    now = utc_text(_now())
    valid_until = parse_expiry(valid_until, now) if valid_until is not None else setup.valid_until
    if valid_until is None or valid_until > utc_text(_now() + timedelta(days=max_validity_days)):
        raise Invalid("a kiosk enrolment lasts until the ticket ends, at most {days} days from now: give its end",
                      days=max_validity_days)
    if not setup.online:
        raise DeviceOffline("the kiosk device {device} is offline: the card cannot be read now", device=device.id)
    if send is None or signing_key is None:
        raise Unavailable("this gateway is not connected to the broker")
    read = CardReadRow(str(uuid7()), device.site, device.id, user, now, purpose, valid_until, "asked", now)
    with store.db.transaction() as tx:
        store.card_reads.add(tx, read)
        key = "typed" if typed else "list" if listed else "qr"
        tx.audit(f"user:{user}", "card.read_requested", read.id, {"device": device.id, "purpose": purpose, "key": key})
    details = CardDetails(document=document, birth=birth, expiry=expiry) if typed else CardDetails(keys=listed)
    nonce, sealed = seal_card_details(device.gallery_key, device.id, read.id, details)
    command = CardReadCommand(id=read.id, device=device.id, issued_at=_now(), by=user, nonce=nonce, sealed=sealed)
    if not send(cmd_topic(device.site, device.id, CARD), sign_command(command, signing_key)):
        with store.db.transaction() as tx:
            store.card_reads.remove(tx, read)
            tx.audit(f"user:{user}", "card.read_not_sent", read.id, {"device": device.id})
        raise Unavailable("the broker did not take the command: the kiosk was not asked; try again")
    return read


@dataclass
class CardProjector:
    """Ingest's hook for `card` events: each stage onto its read, in the event's transaction."""

    secrets: GatewaySecrets
    trust: TrustStore

    @classmethod
    def open(cls, secrets: GatewaySecrets, trust_dir: Path) -> CardProjector:
        """Against the trust store in `trust_dir` (read at each card: what the admin adds counts at once)."""
        return cls(secrets, TrustStore(trust_dir))

    def project(self, store: Store, tx: Tx, event: StoredEvent) -> None:
        body = json.loads(event.body)
        read = store.card_reads.get(body["read"], tx)
        if read is None:
            raise Refused("unknown_read")  # never asked for, or already answered and deleted
        if read.device != event.device:
            raise Refused("foreign_read")
        sealed = {}
        if body.get("sealed"):
            device = store.devices.get(event.device)
            try:
                sealed = json.loads(open_sealed(device.gallery_key if device else None, event.device,
                                                f"card:{read.id}:{body['stage']}", body["nonce"], body["sealed"]))
            except (EvidenceError, ValueError):
                raise Refused("unsealed") from None
        changes: dict = {"stage": body["stage"], "outcome": body["outcome"], "updated_at": event.received_at,
                         "events": [*read.events, event.id]}
        if body["stage"] == "read":
            changes |= self._checked(sealed)
            tx.audit(f"device:{event.device}", "card.read", read.id, {
                "by": read.requested_by, "outcome": changes["passive"], "problems": changes["problems"],
                "card": changes.get("card_hash"), "device_outcome": body["outcome"],
                **({"access_attempts": body["access_attempts"]} if body.get("access_attempts") else {}),
                **{key: body[key] for key in ("protocol", "read_ms") if body.get(key) is not None}})
        elif body["stage"] == "face":
            changes |= {"score": body.get("score"), "threshold": body.get("threshold"),
                        "liveness": body.get("liveness"), "live_template": _template(sealed, "live_template")}
        else:
            changes["problems"] = [body.get("problem") or body["outcome"]]
            if body["outcome"] in READ_FAILURES:
                tx.audit(f"device:{event.device}", "card.read", read.id,
                         {"by": read.requested_by, "outcome": body["outcome"], "problems": changes["problems"]})
        store.card_reads.update(tx, read.id, **changes)

    def _checked(self, sealed: dict) -> dict:
        """Passive authentication at the gateway, from the sealed DG1, EF.SOD and DG2 digest; and where EF.SOD
        lists DG14 or DG15, the kiosk must have seen the chip pass Chip or Active Authentication (only the chip
        can prove that, so here the kiosk's word is needed -- and it can only hold a card back)."""
        try:
            dg1, sod_bytes = base64.b64decode(sealed["dg1"]), base64.b64decode(sealed["sod"])
            mrz, sod = parse_dg1(dg1), parse_sod(sod_bytes)
            # DG13 (the name as written) counts only where EF.SOD covers it; of it only the name is decoded.
            dg13 = base64.b64decode(sealed["dg13"]) if sealed.get("dg13") and 13 in sod.hashes else None
            groups = {1: dg1} | ({13: dg13} if dg13 else {})
            passive = passive_authentication(sod, groups, self.trust, mrz.expiry,
                                             digests={2: bytes.fromhex(sealed["dg2_digest"])},
                                             issuing_state=mrz.issuing_state)
            expires = expiry_date(mrz.expiry, _now().date()).isoformat()
            name = full_name(dg13) if dg13 else None
        except (KeyError, ValueError) as exc:
            return {"passive": TAMPERED, "problems": [f"the card's files do not parse: {exc}"]}
        outcome, problems = passive.outcome, list(passive.problems)
        clone = sealed.get("clone") if isinstance(sealed.get("clone"), dict) else {}
        unproven = [f"the chip did not pass {check} Authentication, which its DG{group} offers"
                    for group, check, key in ((14, "Chip", "chip"), (15, "Active", "active"))
                    if group in sod.hashes and clone.get(key) != PASSED]
        if unproven and outcome != TAMPERED:
            outcome, problems = CLONE_SUSPECTED, problems + unproven
        return {"passive": outcome, "problems": problems, "name": name or mrz.name,
                "mrz_name": mrz.name, "card_expiry": expires,
                "card_hash": self.secrets.id_card_hash(mrz.card_number), "pack": sealed.get("pack"),
                "chip_template": _template(sealed, "chip_template"), "chip_quality": sealed.get("chip_quality")}


def _template(sealed: dict, name: str) -> bytes | None:
    """A float32 template the kiosk sealed, or None if it sent none (or not a template's size: 64-4096 numbers)."""
    try:
        data = base64.b64decode(sealed[name], validate=True)
    except (KeyError, ValueError, TypeError):
        return None
    return data if len(data) % 4 == 0 and 64 <= len(data) // 4 <= 4096 else None


def get_read(store: Store, device_id: str, read_id: str) -> CardReadRow:
    read = store.card_reads.get(read_id)
    if read is None or read.device != device_id:
        raise NotFound("no card read {read} at {device} (answered, or older than the kiosk keeps them)",
                       read=read_id, device=device_id)
    return read


# Outcomes that end a read at the card, whoever holds it: no face is taken.
STOPS = (TAMPERED, CLONE_SUSPECTED, EXPIRED_DOCUMENT)

# Why a read may not become an enrolment, by code (the page words them in the reader's language).
REFUSALS = {
    "tampered": N_("the card failed its authenticity check (tampered): it cannot be used"),
    "clone_suspected": N_("the card's chip could not prove it is the original (a copy is suspected): "
                          "it cannot be used"),
    "expired_document": N_("the card has expired"),
    "untrusted_issuer": N_("the card's issuer is not trusted at this site"),
    "not_read": N_("the card was not read"),
    "not_matched": N_("the live face was not matched to the card"),
    "not_live": N_("the face before the camera did not pass the liveness check"),
}


@dataclass(frozen=True)
class FaceCheck:
    """The gateway's own 1:1 check of a read: the two sealed templates' cosine against the pack's threshold."""

    cosine: float | None  # None: no pair of templates to compare
    threshold: float | None  # None: a pack the gateway does not know

    @classmethod
    def of(cls, read: CardReadRow, settings: KioskSettings, other: bytes | None = None) -> FaceCheck:
        """The read's live face against the chip's portrait, or against `other` (a template of the same pack)."""
        threshold = settings.verify_threshold if settings.verify_threshold is not None else _verify_threshold(read.pack)
        against = read.chip_template if other is None else other
        if against is None or read.live_template is None or len(read.live_template) != len(against):
            return cls(None, threshold)
        reference = np.frombuffer(against, dtype=np.float32).astype(np.float64)
        live = np.frombuffer(read.live_template, dtype=np.float32).astype(np.float64)
        norms = float(np.linalg.norm(reference) * np.linalg.norm(live))
        cosine = float(reference @ live) / norms if norms > 0 and np.isfinite(norms) else None
        return cls(None if cosine is None else round(cosine, 4), threshold)

    @property
    def matched(self) -> bool:
        return self.cosine is not None and self.threshold is not None and self.cosine >= self.threshold


@functools.cache
def _verify_threshold(pack: str | None) -> float | None:
    """The 1:1 threshold of model pack `pack` (models/manifest.toml); None for a pack the gateway does not know."""
    try:
        return load_manifest().pack(pack).verify_threshold if pack else None
    except ModelFileError:
        return None


def may_enrol(read: CardReadRow, settings: KioskSettings) -> str | None:
    """Why this read may not become an enrolment (a key of REFUSALS), or None. Decided from what the gateway
    opened and checked itself; the kiosk's own outcome can only refuse, never admit."""
    for grave in (TAMPERED, CLONE_SUSPECTED):  # whoever holds the card
        if grave in (read.passive, read.outcome):
            return grave
    if read.card_expiry is None:
        return "not_read"
    # The gateway's date against DG1's expiry: passive authentication ranks an untrusted issuer above an expired
    # card, and the kiosk's outcome is only its word.
    if EXPIRED_DOCUMENT in (read.passive, read.outcome) or read.card_expiry < _now().date().isoformat():
        return "expired_document"
    if read.passive == UNTRUSTED_ISSUER and not settings.allow_untrusted_issuer:
        return "untrusted_issuer"
    if read.passive not in (GENUINE, UNTRUSTED_ISSUER):
        return "not_read"
    if read.chip_template is None or read.pack is None:
        return "not_read"
    if read.stage == "face" and read.outcome == "spoof_suspected":  # the kiosk's liveness refused: say that
        return "not_live"
    if read.stage != "face" or read.outcome != "matched" or not FaceCheck.of(read, settings).matched:
        return "not_matched"
    if (read.liveness is None and settings.require_liveness) or \
            (read.liveness is not None and read.liveness < settings.min_liveness):
        return "not_live"
    return None


@dataclass
class Decision:
    outcome: str  # enrolled, extended, declined
    subject: str | None = None


def decide(store: Store, secrets: GatewaySecrets, settings: KioskSettings, device_id: str, read_id: str,
           agree: bool, user: str) -> Decision:
    """The person's answer on the consent screen. Conflict if the read may not be enrolled (or the enrolment is
    refused, e.g. the same face enrolled under another card); the read is deleted in every other case."""
    read = get_read(store, device_id, read_id)
    actor = f"user:{user}"
    if not agree:
        close_read(store, read, actor, "declined")
        return Decision("declined")
    problem = may_enrol(read, settings)
    if problem:
        raise Conflict(REFUSALS[problem])
    check = FaceCheck.of(read, settings)
    detail = {"kiosk": read.device, "read": read.id, "passive": read.passive, "card_expiry": read.card_expiry,
              "cosine": check.cosine, "threshold": check.threshold, "liveness": read.liveness,
              # what the kiosk said, beside what the gateway found
              "claimed": {"outcome": read.outcome, "score": read.score, "threshold": read.threshold}}
    holder = store.people.subject_by_card(read.card_hash) if read.card_hash else None
    if holder:
        extend_consent(store, read, holder, settings.notice_version, actor, detail)
        return Decision("extended", holder)
    chip = np.frombuffer(read.chip_template, dtype=np.float32)
    live = np.frombuffer(read.live_template, dtype=np.float32)
    fused = chip + live  # one template between the card's portrait and today's face
    fused = fused / max(float(np.linalg.norm(fused)), 1e-12)
    request = EnrolmentRequest(source=f"kiosk {read.device}", subject="", display_name=read.name,
                               id_card_hash=read.card_hash, purpose=read.purpose, sites=[read.site],
                               notice_version=settings.notice_version, channel="kiosk", expires_at=read.valid_until)
    enroller = Enroller(store, secrets, {}, QualitySettings(), actor=actor)  # no photo: no pack, no quality gate
    result = enroller.enrol_templates(request, {read.pack: Template(fused, read.chip_quality or 1.0)}, detail)
    if not result.enrolled:
        raise Conflict("not enrolled: {reason}", reason=str(result.reason))
    close_read(store, read, actor, "enrolled", result.subject)
    return Decision("enrolled", result.subject)


def extend_consent(store: Store, read: CardReadRow, subject: str, notice_version: str, actor: str,
                   detail: dict) -> None:
    """A card already enrolled: its live consent for the purpose and site runs to the new validity; a new consent
    only if none covers them (never a second one beside a live one)."""
    now = utc_text(_now())
    live = [c for c in store.people.consents_of(subject)
            if c.purpose == read.purpose and c.live(now) and ("*" in c.sites or read.site in c.sites)]
    with store.db.transaction() as tx:
        if live:
            consent = live[0]
            # No end on either side means no end; else the later of the two (a new ticket never shortens one).
            later = max(consent.expires_at, read.valid_until) if consent.expires_at and read.valid_until else None
            store.people.set_consent_expiry(tx, consent.id, later)
            tx.audit(actor, "consent.extended", subject, {**detail, "consent": consent.id, "expires_at": later})
        else:
            consent_id = store.people.add_consent(tx, Consent(subject, read.purpose, [read.site],
                                                              notice_version, "kiosk", now, read.valid_until,
                                                              actor))
            tx.audit(actor, "consent.granted", subject, {**detail, "consent": consent_id, "purpose": read.purpose,
                                                         "sites": [read.site]})
    close_read(store, read, actor, "extended", subject)


def close_read(store: Store, read: CardReadRow, actor: str, how: str, subject: str | None = None) -> None:
    """Delete the read and its card events. The audit entry names the deleted events as a retention purge does
    (their digest here, their ids in purged_events), so `audit verify` tells them from events that went missing."""
    with store.db.transaction() as tx:
        store.card_reads.remove(tx, read)
        seq = tx.audit(actor, "card.read_closed", read.id, {"how": how, "subject": subject, "count": len(read.events),
                                                            "ids_sha256": ids_digest(read.events)})
        store.events.record_purged(tx, read.events, seq)


def purge(store: Store, settings: KioskSettings) -> int:
    """Delete the reads nobody answered within `read_ttl_s` (with their card events); how many."""
    before = utc_text(_now() - timedelta(seconds=settings.read_ttl_s))
    old = store.card_reads.older_than(before)
    for read in old:
        close_read(store, read, "retention", "expired")
    return len(old)
