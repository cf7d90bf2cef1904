"""Devices and sites: health for everyone, provisioning and revocation for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import EVERYONE, GatewayDep, actor, require
from gateway.errors import Unavailable
from gateway.services.devices.registry import add_site, place_device, provision_device, revoke_device
from gateway.services.security.pki import CertificateAuthority
from gateway.storage import Session
from wire.bundle import bundle_text
from wire.names import DeviceKind
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api", tags=["devices"])


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
    clock_skew_s: float | None  # gateway minus device clock at its last heartbeat
    gallery_version: int  # the newest version made for it
    gallery_size: int
    gallery_applied_version: int  # the newest the device has confirmed
    gallery_pending: bool
    room: str | None  # an exam device's place at its centre: the room ...
    seat: str | None  # ... and the seat


class PlaceIn(BaseModel):
    room: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    seat: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None


class DeviceIn(BaseModel):
    site: str = Field(pattern=ID_PATTERN.pattern)
    name: str = Field(pattern=ID_PATTERN.pattern)
    kind: DeviceKind = "gate"
    broker_url: str = Field("mqtt://127.0.0.1:1883", max_length=200)


class Provisioned(BaseModel):
    device: str
    bundle_toml: str  # secret: hand it to the device, keep no copy


class Revoked(BaseModel):
    device: str
    status: str


class SiteIn(BaseModel):
    id: str = Field(pattern=ID_PATTERN.pattern)
    name: str = Field(min_length=1, max_length=200)


class SiteView(BaseModel):
    id: str
    name: str


@router.get("/devices", response_model=list[DeviceView])
def list_devices(gw: GatewayDep, session: Annotated[Session, Depends(require(*EVERYONE))],
                 site: Annotated[str | None, Query(pattern=ID_PATTERN.pattern)] = None) -> list[DeviceView]:
    """Devices with online state (from their retained status), their last heartbeat and their clock."""
    views = []
    for d in gw.store.devices.all(site):
        latest = gw.store.galleries.latest(d.id)
        applied = gw.store.galleries.latest_applied(d.id).version
        views.append(DeviceView(
            id=d.id, site=d.site, kind=d.kind, name=d.name, status=d.status, online=d.online and d.active,
            status_at=d.status_at, last_seq=d.last_seq, last_heartbeat_at=d.last_heartbeat_at,
            last_heartbeat=d.last_heartbeat, clock_skew_s=d.clock_skew_s, gallery_version=latest.version,
            gallery_size=len(latest.members), gallery_applied_version=applied, gallery_pending=latest.version > applied,
            room=d.room, seat=d.seat))
    return views


@router.post("/devices", status_code=201, response_model=Provisioned)
def provision(body: DeviceIn, gw: GatewayDep, session: Annotated[Session, Depends(require("admin"))]) -> Provisioned:
    """Provision a device; the answer holds its bundle (secret: hand it to the device, keep no copy)."""
    if gw.broker_files is None:
        raise Unavailable("provisioning is not available on this gateway")
    bundle = provision_device(gw.store, gw.broker_files, gw.secrets, site=body.site, device=body.name,
                              kind=body.kind, broker_url=body.broker_url, actor=actor(session), ca=_ca(gw))
    if gw.on_consent_change:
        gw.on_consent_change()  # its gallery
    return Provisioned(device=bundle.device, bundle_toml=bundle_text(bundle))


@router.post("/devices/{device}/revoke", response_model=Revoked)
def revoke(device: Annotated[str, Path(pattern=ID_PATTERN.pattern)], gw: GatewayDep,
           session: Annotated[Session, Depends(require("admin"))]) -> Revoked:
    """Shut a device out of the broker and refuse its events."""
    if gw.broker_files is None:
        raise Unavailable("provisioning is not available on this gateway")
    revoke_device(gw.store, gw.broker_files, device, actor=actor(session), ca=_ca(gw))
    return Revoked(device=device, status="revoked")


@router.put("/devices/{device}/place", response_model=PlaceIn)
def place(device: Annotated[str, Path(pattern=ID_PATTERN.pattern)], body: PlaceIn, gw: GatewayDep,
          session: Annotated[Session, Depends(require("admin"))]) -> PlaceIn:
    """Where an exam device stands: its room and seat (both, or neither to take it out of the schedule). Audited."""
    place_device(gw.store, device, body.room, body.seat, actor(session))
    return body


def _ca(gw) -> CertificateAuthority:
    """The FaceGate CA (bundles carry its certificate; a revoked device's certificate joins its CRL)."""
    return CertificateAuthority(gw.config.secrets_dir / "pki")


@router.get("/sites", response_model=list[SiteView], tags=["people"])
def list_sites(gw: GatewayDep, session: Annotated[Session, Depends(require(*EVERYONE))]) -> list[SiteView]:
    """Sites devices and consents refer to."""
    return [SiteView(id=s.id, name=s.name) for s in gw.store.people.sites()]


@router.post("/sites", status_code=201, response_model=SiteView, tags=["people"])
def create_site(body: SiteIn, gw: GatewayDep, session: Annotated[Session, Depends(require("admin"))]) -> SiteView:
    """Add a site."""
    add_site(gw.store, body.id, body.name, actor=actor(session))
    return SiteView(id=body.id, name=body.name)
