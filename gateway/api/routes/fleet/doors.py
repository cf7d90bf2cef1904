"""Doors: an operator opens a gate's lane once, by hand, with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, StringConstraints

from gateway.api.deps import LIVE_ROLES, GatewayDep, require
from gateway.services.devices.doors import open_lane
from gateway.storage import Session
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/devices", tags=["doors"])


class OpenLaneIn(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class DoorOrder(BaseModel):
    command: str  # the `door` event that confirms it names this
    device: str
    lane: int
    issued_at: AwareDatetime
    by: str
    reason: str


@router.post("/{device}/doors/{lane}/open", status_code=202, response_model=DoorOrder)
def open_door(device: Annotated[str, Path(pattern=ID_PATTERN.pattern)], lane: Annotated[int, Path(ge=1, le=64)],
              body: OpenLaneIn, gw: GatewayDep, session: Annotated[Session, Depends(require(*LIVE_ROLES))]
              ) -> DoorOrder:
    """Open `lane` of gate `device` once (operators, supervisors, admins). Accepted once the broker has the
    signed command; the device confirms with a `door` event naming `command` (on the live stream)."""
    c = open_lane(gw.store, device, lane, body.reason, session.user.name, gw.send,
                  gw.secrets.signing_key if gw.send else None)
    return DoorOrder(command=c.id, device=c.device, lane=c.lane, issued_at=c.issued_at, by=c.by, reason=c.reason)
