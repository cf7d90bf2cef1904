"""The fleet: what runs where, per site and per device, and which devices lag or refused their configuration."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.services.devices.fleet import fleet
from gateway.storage import Session

router = APIRouter(prefix="/api", tags=["devices"])


class FleetSiteView(BaseModel):
    site: str
    devices: int
    online: int
    configs: dict[str, int]  # current, lagging, refused, local -> devices
    software: dict[str, int]  # FaceGate release -> devices ("?": not said yet)
    packs: dict[str, int]  # model pack -> devices


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


class FleetView(BaseModel):
    sites: list[FleetSiteView]
    devices: list[FleetDeviceView]


@router.get("/fleet", response_model=FleetView)
def get_fleet(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> FleetView:
    """Per site, devices online, their configurations' state, releases and packs; per device, the same and why."""
    sites, devices = fleet(gw.store)
    return FleetView(sites=[FleetSiteView(site=s.site, devices=s.devices, online=s.online, configs=dict(s.configs),
                                          software=dict(s.software), packs=dict(s.packs)) for s in sites],
                     devices=[FleetDeviceView(**asdict(d)) for d in devices])
