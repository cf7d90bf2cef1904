"""Enrolment of consented people: one photo and one consent in, a subject with templates out -- or a reason.

Each photo must decode, be a sensible size, show exactly one face that passes
the quality gate (inter-eye distance, pose, sharpness, brightness), and not be
the face of a subject already enrolled under another id. A template is made
with every model pack the devices use. Subject, consent and templates are
written in one transaction: nothing is ever half-enrolled. The photo itself is
kept nowhere.

Sources: a photo (`--subject`), a folder (file or sub-folder name = subject),
or a CSV manifest with one row per person:

    photo,subject,display_name,id_card,purpose,sites,notice_version,channel,expires_at
"""

from __future__ import annotations

import csv
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gateway.errors import GatewayError
from gateway.services.people.consent import check_consent_fields, parse_expiry
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Consent, Store, Subject
from models import LoadedPack
from models.photos import IMAGE_SUFFIXES, PhotoResult, Template, decode_image, photos_in, template_from_image
from models.quality import QualitySettings
from models.reasons import Reason
from models.settings import ModelSettings, open_pack
from wire.events import utc_text
from wire.topics import ID_PATTERN

DUPLICATE_THRESHOLD = 0.5  # same face: LFW different-person pairs never reach 0.40 (see README)
CSV_COLUMNS = ("photo", "subject", "display_name", "id_card", "purpose", "sites", "notice_version", "channel",
               "expires_at")


@dataclass
class EnrolmentRequest:
    source: str  # how results name it: file path or upload name
    subject: str  # "" with a display name: an id is made from the name (new_subject_id)
    photo: bytes | None = None
    display_name: str | None = None
    id_card: str | None = None
    id_card_hash: str | None = None  # the card number already hashed (a kiosk's read), instead of id_card
    purpose: str = "gate"
    sites: list[str] = field(default_factory=lambda: ["*"])
    notice_version: str = "v1"
    channel: str = "counter"
    expires_at: str | None = None  # ISO 8601
    problem: str | None = None  # found while reading the source (bad CSV row, unreadable file)


def new_subject_id(display_name: str, taken: Callable[[str], bool]) -> str:
    """An id for a person named in any script: "Trần Thị Bình" -> "tran-thi-binh" (then "-2", "-3", ... while
    `taken`); a name with no Latin letters at all becomes "person-<random>"."""
    # Vietnamese đ/Đ is a letter of its own, not d with a mark: NFKD does not take it apart.
    plain = unicodedata.normalize("NFKD", display_name.replace("đ", "d").replace("Đ", "D"))
    words = re.findall(r"[a-z0-9]+", "".join(c for c in plain if not unicodedata.combining(c)).lower())
    base = "-".join(words)[:56].strip("-") or f"person-{secrets.token_hex(4)}"
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# One result per photo, as `facegate gallery build` reports it: source, subject, enrolled, reason, quality.
EnrolmentResult = PhotoResult


class Enroller:
    def __init__(self, store: Store, secrets: GatewaySecrets, packs: dict[str, LoadedPack],
                 quality: QualitySettings, actor: str = "system"):
        self.store = store
        self.secrets = secrets
        self.packs = packs
        self.quality = quality
        self.actor = actor

    def enrol(self, request: EnrolmentRequest) -> EnrolmentResult:
        """Check and enrol one person from their photo; the result says why not if not."""
        if not self.packs:
            raise ValueError("enrolment from a photo needs at least one model pack")
        fail = self._checked(request)
        if isinstance(fail, EnrolmentResult):
            return fail
        if request.photo is None:
            return fail(Reason("no photo"))
        image = decode_image(request.photo)
        if isinstance(image, str):
            return fail(image)
        templates: dict[str, Template] = {}
        for name, pack in self.packs.items():
            outcome = template_from_image(image, pack, self.quality)
            if isinstance(outcome, str):
                return fail(outcome)
            templates[name] = outcome
        return self._write(request, templates, fail)

    def enrol_templates(self, request: EnrolmentRequest, templates: dict[str, Template],
                        detail: dict | None = None) -> EnrolmentResult:
        """Enrol one person from templates already made (a kiosk's, from the live face and the chip portrait):
        the same checks and the same one transaction as from a photo. `detail` joins the audit entry."""
        fail = self._checked(request)
        if isinstance(fail, EnrolmentResult):
            return fail
        return self._write(request, templates, fail, detail)

    def _checked(self, request: EnrolmentRequest):
        """The request's fields checked (an id made from the display name if none was given): a refusal, or the
        function that makes one for what is found later."""
        if not request.subject and request.display_name and request.display_name.strip():
            request.subject = new_subject_id(request.display_name, self.store.people.subject_exists)
        fail = lambda reason: EnrolmentResult(request.source, request.subject, False, reason)  # noqa: E731
        problem = request.problem or self._check_fields(request)
        return fail(problem) if problem else fail

    def _write(self, request: EnrolmentRequest, templates: dict[str, Template], fail,
               detail: dict | None = None) -> EnrolmentResult:
        duplicate = self._duplicate_of(templates)
        if duplicate:
            return fail(Reason("same face as enrolled subject {subject} (similarity {similarity})",
                               subject=duplicate[0], similarity=f"{duplicate[1]:.2f}"))
        now = utc_text(datetime.now(timezone.utc))
        card = self._card_hash(request)
        subject = Subject(request.subject, request.display_name or request.subject, card, now, self.actor)
        consent = Consent(request.subject, request.purpose, request.sites, request.notice_version, request.channel,
                          now, request.expires_at, self.actor)
        quality = min(t.quality for t in templates.values())
        with self.store.db.transaction() as tx:  # subject, consent and templates: nothing half-enrolled
            self.store.people.add_subject(tx, subject, {
                name: (t.embedding.astype(np.float32).tobytes(), t.quality) for name, t in templates.items()})
            self.store.people.add_consent(tx, consent)
            tx.audit(self.actor, "subject.enrolled", request.subject,
                     {"purpose": request.purpose, "sites": request.sites, "packs": sorted(templates),
                      "notice_version": request.notice_version, "channel": request.channel, **(detail or {})})
        return EnrolmentResult(request.source, request.subject, True, quality=quality)

    def _check_fields(self, r: EnrolmentRequest) -> str | None:
        if not ID_PATTERN.match(r.subject or ""):
            return Reason("subject id '{subject}': 1-64 of a-z, 0-9, '-', '_'", subject=r.subject)
        if self.store.people.subject_exists(r.subject):
            return Reason("subject {subject} already exists", subject=r.subject)
        try:
            check_consent_fields(self.store, r.purpose, r.sites)
            r.expires_at = parse_expiry(r.expires_at, utc_text(datetime.now(timezone.utc)))
        except GatewayError as exc:
            return Reason(exc.message, **exc.params)
        card = self._card_hash(r)
        if card:
            holder = self.store.people.subject_by_card(card)
            if holder:
                return Reason("this ID card is already enrolled as subject {subject}", subject=holder)
        return None

    def _card_hash(self, r: EnrolmentRequest) -> str | None:
        return r.id_card_hash or (self.secrets.id_card_hash(r.id_card) if r.id_card else None)

    def _duplicate_of(self, templates: dict[str, Template]) -> tuple[str, float] | None:
        name, template = next(iter(templates.items()))
        subjects, blobs = self.store.people.templates(name)
        if not subjects:
            return None
        gallery = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(subjects), -1)
        scores = gallery @ template.embedding.astype(np.float32)
        best = int(np.argmax(scores))
        return (subjects[best], float(scores[best])) if scores[best] >= DUPLICATE_THRESHOLD else None


def _read(path: Path) -> tuple[bytes | None, str | None]:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None, f"not an image file ({path.suffix or 'no suffix'})"
    try:
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"


def requests_from(path: Path, defaults: EnrolmentRequest) -> Iterator[EnrolmentRequest]:
    """Enrolment requests from a photo, a folder or a CSV manifest; `defaults` gives the consent fields."""
    if path.is_dir():
        for photo, subject in photos_in(path):
            data, problem = _read(photo)
            yield replace(defaults, source=str(photo), subject=subject.lower(), photo=data, problem=problem)
    elif path.suffix.lower() == ".csv":
        yield from _csv_requests(path, defaults)
    elif path.is_file():
        data, problem = _read(path)
        yield replace(defaults, source=str(path), subject=defaults.subject or path.stem.lower(), photo=data,
                      problem=problem)
    else:
        raise FileNotFoundError(f"{path} is not a photo, a folder or a CSV manifest")


def _csv_requests(path: Path, defaults: EnrolmentRequest) -> Iterator[EnrolmentRequest]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"photo", "subject"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; columns: {','.join(CSV_COLUMNS)}")
        for n, row in enumerate(reader, start=2):
            source = f"{path.name}:{n}"
            photo = (path.parent / (row.get("photo") or "")).resolve()
            data, problem = _read(photo) if row.get("photo") else (None, "no photo given")
            sites = [s.strip() for s in (row.get("sites") or "").replace(";", ",").split(",") if s.strip()]
            yield replace(defaults, source=source, subject=(row.get("subject") or "").strip(), photo=data,
                          problem=problem, display_name=row.get("display_name") or None,
                          id_card=row.get("id_card") or None, purpose=row.get("purpose") or defaults.purpose,
                          sites=sites or defaults.sites, notice_version=row.get("notice_version") or defaults.notice_version,
                          channel=row.get("channel") or defaults.channel,
                          expires_at=row.get("expires_at") or defaults.expires_at)


def packs_in_use(store: Store, default: str = "buffalo_s") -> set[str]:
    """The model packs enrolment must make templates for: every active device's, and the default."""
    return {d.model_pack for d in store.devices.all() if d.active} | {default}


def open_packs(names: set[str], settings: ModelSettings) -> dict[str, LoadedPack]:
    """Each named pack, opened with `settings` (where the files are, how they run)."""
    return {name: open_pack(settings.model_copy(update={"pack": name})) for name in sorted(names)}


class EnrolmentService:
    """Enrolment for a long-running gateway: model packs loaded on first use, one enrolment at a time."""

    def __init__(self, store: Store, secrets: GatewaySecrets, models: ModelSettings, quality: QualitySettings):
        self.store, self.secrets, self.models, self.quality = store, secrets, models, quality
        self._lock = threading.Lock()
        self._packs: dict[str, LoadedPack] = {}

    def enrol(self, request: EnrolmentRequest, actor: str) -> EnrolmentResult:
        with self._lock:
            wanted = packs_in_use(self.store)
            if not wanted <= self._packs.keys():
                self._packs |= open_packs(wanted - self._packs.keys(), self.models)
            enroller = Enroller(self.store, self.secrets, {n: self._packs[n] for n in wanted}, self.quality, actor)
            return enroller.enrol(request)

    def photo_template(self, photo: bytes, pack: str) -> Template | str:
        """A template of the one face in `photo` (an exam list's photo, at the door), made with model pack `pack`
        under the enrolment's quality rules; or why there is none."""
        image = decode_image(photo)
        if isinstance(image, str):
            return image
        with self._lock:
            if pack not in self._packs:
                self._packs |= open_packs({pack}, self.models)
            return template_from_image(image, self._packs[pack], self.quality)
