"""The fleet: what runs where, per site and per device, and which devices lag or refused their configuration or
their model pack."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.errors import Invalid
from gateway.services.devices.configs import change_many
from gateway.services.devices.fleet import fleet
from gateway.storage import Session
from wire.names import DeviceKind
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api", tags=["devices"])


class FleetSiteView(BaseModel):
    site: str
    devices: int
    online: int
    configs: dict[str, int]  # current, lagging, refused, local -> devices
    software: dict[str, int]  # FaceGate release -> devices ("?": not said yet)
    packs: dict[str, int]  # "pack vN" (N: the version running, 0 the one it came with) -> devices
    updates: dict[str, int]  # pack update state (current, updating, refused, none) -> devices


class FleetDeviceView(BaseModel):
    id: str
    site: str
    kind: str
    online: bool
    software: str | None
    pack: str
    config_latest: int | None
    config_running: int | None
    config_state: str  # current | lagging | refused | local
    reason: str | None  # refused: the device's words (untrusted: shown as text)
    since: str | None  # lagging: since the version was made
    last_heartbeat_at: str | None
    pack_version: int | None  # the pack version it runs (0: the one it came with; None: not said)
    update_state: str  # current | updating | refused | none
    update_kind: str | None  # what the newest update sent to it installs: pack | software
    update_version: int | None  # its version (a pack's, or a release's number)
    update_reason: str | None  # refused: the device's words (untrusted: shown as text)


class FleetView(BaseModel):
    sites: list[FleetSiteView]
    devices: list[FleetDeviceView]


@router.get("/fleet", response_model=FleetView)
def get_fleet(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> FleetView:
    """Per site, devices online, their configurations' state, releases and packs; per device, the same and why."""
    sites, devices = fleet(gw.store)
    return FleetView(sites=[FleetSiteView(site=s.site, devices=s.devices, online=s.online, configs=dict(s.configs),
                                          software=dict(s.software), packs=dict(s.packs),
                                          updates=dict(s.updates)) for s in sites],
                     devices=[FleetDeviceView(**asdict(d)) for d in devices])


Setting = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}(\.[a-z_]{1,40}){0,3}$")]


class FleetChangeIn(BaseModel):
    """Which devices (every active one of `site` and/or `kind`, or those named) and the settings to set on each."""

    site: str | None = Field(None, pattern=ID_PATTERN.pattern)
    kind: DeviceKind | None = None
    devices: list[Annotated[str, Field(pattern=ID_PATTERN.pattern)]] | None = Field(None, max_length=1000)
    settings: dict[Setting, Any] = Field(min_length=1, max_length=50,
                                         description='dotted paths: {"policy.identify_threshold": 0.5}; '
                                                     "null takes a setting back to its default")


class FleetChanged(BaseModel):
    changed: dict[str, int]  # device -> the version made for it
    unchanged: list[str]  # devices that had these settings already


@router.post("/fleet/config", status_code=201, response_model=FleetChanged)
def change_fleet(body: FleetChangeIn, gw: GatewayDep, session: Annotated[Session, Depends(require("admin"))]
                 ) -> FleetChanged:
    """The same settings on many devices in one action: each device's next configuration version, checked first
    (422 naming the device and the field if one does not validate: then none is made), each audited and sent."""
    if body.devices is not None:
        chosen = body.devices
    else:
        chosen = [d.id for d in gw.store.devices.all(body.site)
                  if d.active and (body.kind is None or d.kind == body.kind)]
    if not chosen:
        raise Invalid("no active device is chosen")
    made, unchanged = change_many(gw.store, gw.secrets, gw.publish, chosen, body.settings, session.user.name)
    return FleetChanged(changed={v.device: v.version for v in made}, unchanged=unchanged)
