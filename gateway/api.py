"""The audit API (FastAPI). Every route declares its roles; see `gateway.auth`.

Reads of events name people (verdict subjects), so each query is written to the
audit log with who asked and what for.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from gateway import audit
from gateway.audit import AuditEntry
from gateway.auth import COOKIE, Auth, require
from gateway.exam_api import add_exam_routes
from gateway.web import add_pages
from gateway.ingest import IngestMetrics
from gateway.live import LiveFeed
from wire.bundle import bundle_text
from gateway.storage import EventQuery, Storage, StoredEvent, User
from provisioning.consent import ConsentError, grant, withdraw
from provisioning.devices import ProvisioningError, add_site, provision_device, revoke_device
from provisioning.enrolment import EnrolmentRequest, EnrolmentService
from wire.events import EVENT_TYPES, utc_text
from wire.topics import ID_PATTERN

EVERYONE = ("admin", "supervisor", "operator", "auditor")
LIVE_ROLES = ("admin", "supervisor", "operator")
AUDIT_ROLES = ("admin", "auditor")
SSE_KEEPALIVE_S = 15.0

Kind = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]
VerdictValue = Literal["granted", "unknown", "spoof_suspected"]
IdParam = Annotated[str | None, Query(pattern=ID_PATTERN.pattern)]


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


class EventPage(BaseModel):
    events: list[dict]
    next_cursor: str | None  # pass as `cursor` for the next (older) page; None at the end


class DeviceView(BaseModel):
    id: str
    site: str
    kind: str
    name: str
    status: str
    online: bool
    status_at: str | None
    last_seq: int
    last_heartbeat_at: str | None
    last_heartbeat: dict | None
    gallery_version: int  # the newest version made for it
    gallery_size: int
    gallery_applied_version: int  # the newest the device has confirmed
    gallery_pending: bool


class AuditCheck(BaseModel):
    ok: bool
    entries: int
    events: int
    first_broken: int | None
    reason: str | None


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def _time_param(value: datetime | None) -> str | None:
    if value is None:
        return None
    return utc_text(value if value.tzinfo else value.replace(tzinfo=timezone.utc))


def encode_cursor(event: StoredEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.captured_at}|{event.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        captured_at, event_id = text.split("|")
        return captured_at, event_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": "not a cursor from this API",
                                   "type": "value_error"}]) from None


class SiteIn(BaseModel):
    id: str = Field(pattern=ID_PATTERN.pattern)
    name: str = Field(min_length=1, max_length=200)


class ConsentIn(BaseModel):
    purpose: Literal["gate", "exam"] = "gate"
    sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    notice_version: str = Field("v1", max_length=32)
    channel: str = Field("counter", max_length=32)
    expires_at: datetime | None = None


class EnrolIn(ConsentIn):
    """One consented person: their photo (base64) and their consent."""

    subject: str = Field(pattern=ID_PATTERN.pattern)
    display_name: str | None = Field(None, max_length=200)
    id_card: str | None = Field(None, max_length=32, description="stored only as a keyed hash")
    photo: str = Field(description="the photo file, base64", max_length=45_000_000)


class DeviceIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    name: str = Field(pattern=ID_PATTERN.pattern)
    kind: Literal["gate", "exam"] = "gate"
    broker_url: str = Field("mqtt://127.0.0.1:1883", max_length=200)


class WithdrawIn(BaseModel):
    purpose: Literal["gate", "exam"] | None = None  # None: every purpose


def create_app(storage: Storage, auth: Auth, live: LiveFeed, metrics: IngestMetrics | None = None,
               lifespan=None, enrolment: EnrolmentService | None = None,
               on_consent_change: Callable[[], None] | None = None,
               publish: Callable[[str, bytes], bool] | None = None, signing_key=None,
               broker_files=None, secrets=None) -> FastAPI:
    """The API over one storage; `metrics` are the ingest counters when ingest runs in this process."""
    app = FastAPI(title="FaceGate gateway", version="1", lifespan=lifespan,
                  description="Events from FaceGate edge devices, their health, and the audit trail. "
                              "Log in at /api/auth/token, then send `Authorization: Bearer <token>`.")
    app.state.storage = storage
    app.state.auth = auth
    app.state.live = live
    app.state.metrics = metrics or IngestMetrics()

    @app.post("/api/auth/token", response_model=TokenResponse, tags=["auth"])
    def login(body: LoginRequest, response: Response) -> TokenResponse:
        """Exchange a user name and password for a bearer token (public: the only route without a role).

        Also sets it as an HttpOnly, same-site cookie, which only reads (GET) accept: the web pages.
        """
        result = auth.login(body.username, body.password)
        storage.append_audit(AuditEntry(_now(), f"user:{body.username}", "user.login",
                                        body.username, {"ok": result is not None}))
        if result is None:
            raise HTTPException(401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"})
        response.set_cookie(COOKIE, result[0], httponly=True, samesite="strict", max_age=int(auth.token_ttl_s))
        return TokenResponse(access_token=result[0], expires_at=result[1])

    login.public = True  # type: ignore[attr-defined]

    @app.get("/api/me", tags=["auth"])
    def me(user: User = Depends(require(*EVERYONE))) -> dict:
        """Who the token belongs to."""
        return {"name": user.name, "role": user.role}

    @app.get("/api/events", response_model=EventPage, tags=["events"])
    def list_events(
        user: User = Depends(require(*EVERYONE)),
        site: IdParam = None,
        device: IdParam = None,
        kind: Kind | None = None,
        verdict: VerdictValue | None = None,
        subject: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        since: Annotated[datetime | None, Query(description="captured at or after (ISO 8601; UTC if no zone)")] = None,
        until: Annotated[datetime | None, Query(description="captured before")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> EventPage:
        """Stored events, newest first, filtered; page with `next_cursor`."""
        q = EventQuery(site=site, device=device, kind=kind, verdict=verdict, subject=subject,
                       since=_time_param(since), until=_time_param(until),
                       before=decode_cursor(cursor) if cursor else None, limit=limit)
        rows = storage.query_events(q)
        filters = {k: v for k, v in q.__dict__.items() if v is not None and k not in ("limit", "before")}
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "events.read", None,
                                        {"filters": filters, "returned": len(rows)}))
        return EventPage(events=[r.api() for r in rows],
                         next_cursor=encode_cursor(rows[-1]) if len(rows) == limit else None)

    @app.get("/api/events/stream", tags=["events"])
    async def stream_events(
        request: Request,
        user: User = Depends(require(*LIVE_ROLES)),
        site: IdParam = None,
        device: IdParam = None,
        kind: Kind | None = None,
    ) -> StreamingResponse:
        """Server-Sent Events: every event as it is stored (`event:` is its kind, `id:` its id)."""
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "events.stream", None,
                                        {"site": site, "device": device, "kind": kind}))
        listener = live.subscribe()

        async def body():
            try:
                yield ": connected\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(listener.queue.get(), SSE_KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    if (site and event.site != site) or (device and event.device != device) or (
                            kind and event.kind != kind):
                        continue
                    yield f"event: {event.kind}\nid: {event.id}\ndata: {json.dumps(event.api())}\n\n"
            finally:
                live.unsubscribe(listener)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/events/{event_id}", tags=["events"])
    def get_event(event_id: Annotated[str, Path(max_length=64)], user: User = Depends(require(*EVERYONE))) -> dict:
        """One stored event with its signature."""
        event = storage.event(event_id)
        if event is None:
            raise HTTPException(404, f"no event {event_id}")
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "event.read", event_id, {}))
        return event.api()

    @app.get("/api/devices", response_model=list[DeviceView], tags=["devices"])
    def list_devices(user: User = Depends(require(*EVERYONE)), site: IdParam = None) -> list[DeviceView]:
        """Devices with online state (from their retained status) and their last heartbeat."""
        views = []
        for d in storage.devices(site):
            version, members, published_at, _ = storage.latest_gallery(d.id)
            applied = storage.applied_gallery_version(d.id)
            views.append(DeviceView(
                id=d.id, site=d.site, kind=d.kind, name=d.name, status=d.status,
                online=d.online and d.status == "active", status_at=d.status_at, last_seq=d.last_seq,
                last_heartbeat_at=d.last_heartbeat_at, last_heartbeat=d.last_heartbeat,
                gallery_version=version, gallery_size=len(members), gallery_applied_version=applied,
                gallery_pending=version > applied))
        return views

    @app.get("/api/audit/verify", response_model=AuditCheck, tags=["audit"])
    def verify_audit(user: User = Depends(require(*AUDIT_ROLES))) -> AuditCheck:
        """Recompute the audit chain and every event digest; names the first broken link."""
        report = audit.verify(storage)
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "audit.verified", None, {"ok": report.ok}))
        return AuditCheck(**report.__dict__)

    @app.get("/api/audit", tags=["audit"])
    def list_audit(user: User = Depends(require(*AUDIT_ROLES)),
                   after: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """Audit entries in chain order, after entry `after`."""
        keys = ("seq", "at", "actor", "action", "target", "detail", "prev", "hash")
        return [dict(zip(keys, row)) | {"detail": json.loads(row[5] or "{}")}
                for row in storage.audit_entries(after, limit)]

    @app.post("/api/devices", status_code=201, tags=["devices"])
    def provision(body: DeviceIn, user: User = Depends(require("admin"))) -> dict:
        """Provision a device; the answer holds its bundle (secret: hand it to the device, keep no copy)."""
        if broker_files is None or secrets is None:
            raise HTTPException(503, "provisioning is not available on this gateway")
        try:
            bundle = provision_device(storage, broker_files, secrets, site=body.site, device=body.name,
                                      kind=body.kind, broker_url=body.broker_url, actor=f"user:{user.name}")
        except ProvisioningError as exc:
            raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
        if on_consent_change:
            on_consent_change()  # its gallery
        return {"device": bundle.device, "bundle_toml": bundle_text(bundle)}

    @app.post("/api/devices/{device}/revoke", tags=["devices"])
    def revoke(device: Annotated[str, Path(pattern=ID_PATTERN.pattern)], user: User = Depends(require("admin"))) -> dict:
        """Shut a device out of the broker and refuse its events."""
        if broker_files is None:
            raise HTTPException(503, "provisioning is not available on this gateway")
        try:
            revoke_device(storage, broker_files, device, actor=f"user:{user.name}")
        except ProvisioningError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"device": device, "status": "revoked"}

    @app.get("/api/sites", tags=["people"])
    def list_sites(user: User = Depends(require(*EVERYONE))) -> list[dict]:
        """Sites devices and consents refer to."""
        return [{"id": s, "name": n} for s, n in storage.sites()]

    @app.post("/api/sites", status_code=201, tags=["people"])
    def create_site(body: SiteIn, user: User = Depends(require("admin"))) -> dict:
        """Add a site."""
        try:
            add_site(storage, body.id, body.name, actor=f"user:{user.name}")
        except ProvisioningError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"id": body.id, "name": body.name}

    @app.get("/api/subjects", tags=["people"])
    def list_subjects(user: User = Depends(require("admin", "supervisor"))) -> list[dict]:
        """Enrolled subjects with their consents (never ID-card numbers or templates)."""
        rows = storage.subjects()
        storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "subjects.read", None, {"returned": len(rows)}))
        return rows

    @app.post("/api/subjects", status_code=201, tags=["people"])
    def enrol_subject(body: EnrolIn, user: User = Depends(require("admin"))) -> dict:
        """Enrol one consented person from a photo; 422 with the reason if the photo or consent is refused."""
        if enrolment is None:
            raise HTTPException(503, "enrolment is not available on this gateway")
        try:
            photo = base64.b64decode(body.photo, validate=True)
        except binascii.Error:
            raise HTTPException(422, [{"loc": ["body", "photo"], "msg": "not base64", "type": "value_error"}]) from None
        request = EnrolmentRequest(source="upload", subject=body.subject, photo=photo, display_name=body.display_name,
                                   id_card=body.id_card, purpose=body.purpose, sites=body.sites,
                                   notice_version=body.notice_version, channel=body.channel,
                                   expires_at=_time_param(body.expires_at))
        result = enrolment.enrol(request, actor=f"user:{user.name}")
        if not result.enrolled:
            storage.append_audit(AuditEntry(_now(), f"user:{user.name}", "subject.refused", body.subject,
                                            {"reason": result.reason}))
            raise HTTPException(422, result.reason)
        if on_consent_change:
            on_consent_change()
        return {"subject": result.subject, "enrolled": True, "quality": round(result.quality, 3)}

    @app.post("/api/subjects/{subject}/consents", status_code=201, tags=["people"])
    def add_consent(subject: Annotated[str, Path(pattern=ID_PATTERN.pattern)], body: ConsentIn,
                    user: User = Depends(require("admin"))) -> dict:
        """Record another consent for an enrolled subject; galleries follow within seconds."""
        try:
            consent = grant(storage, subject, body.purpose, body.sites, body.notice_version, body.channel,
                            _time_param(body.expires_at), actor=f"user:{user.name}")
        except ConsentError as exc:
            raise HTTPException(404 if "no subject" in str(exc) else 422, str(exc)) from None
        if on_consent_change:
            on_consent_change()
        return {"subject": subject, "consent": consent}

    @app.post("/api/subjects/{subject}/withdraw", tags=["people"])
    def withdraw_consent(subject: Annotated[str, Path(pattern=ID_PATTERN.pattern)], body: WithdrawIn,
                         user: User = Depends(require("admin"))) -> dict:
        """Withdraw consent: the subject leaves every gallery it no longer covers; the erasure is tracked."""
        try:
            erasure = withdraw(storage, subject, body.purpose, actor=f"user:{user.name}")
        except ConsentError as exc:
            raise HTTPException(404 if "no subject" in str(exc) else 409, str(exc)) from None
        if on_consent_change:
            on_consent_change()
        return {"subject": subject, "erasure": erasure}

    @app.get("/api/erasures", tags=["people"])
    def list_erasures(user: User = Depends(require(*AUDIT_ROLES)), outstanding: bool = False) -> list[dict]:
        """Erasures and, per device, the gallery version that drops the subject and when it was confirmed."""
        return storage.erasures(outstanding_only=outstanding)

    add_exam_routes(app, storage, publish, signing_key)
    add_pages(app)

    @app.get("/api/metrics", tags=["health"])
    def metrics_view(user: User = Depends(require(*AUDIT_ROLES))) -> dict:
        """Ingest counters since start, rejects by reason, live listeners, stored events."""
        return {"ingest": app.state.metrics.snapshot(), "live_listeners": live.listeners,
                "events_stored": storage.count_events()}

    return app
