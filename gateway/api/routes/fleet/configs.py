"""Devices' configurations from the centre: the current one and its history for admins and auditors; a new
version, or back to an earlier one, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.errors import NotFound
from gateway.services.devices import configs
from gateway.storage import ConfigVersion, Session
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/devices", tags=["devices"])
DeviceId = Annotated[str, Path(pattern=ID_PATTERN.pattern)]


class ConfigVersionView(BaseModel):
    version: int
    document: dict  # door passwords masked
    changes: dict[str, list]  # "section.key": [old, new] against the version before
    created_at: str
    created_by: str
    rollback_of: int | None
    published: bool  # the broker has it (retained for the device)
    outcome: str | None  # the device's word: "applied" | "refused" | None (not heard of yet)
    how: str | None  # applied "live", by a "restart", or at "start"
    reason: str | None  # refused: why, in the device's words
    reported_at: str | None


class DeviceConfigView(BaseModel):
    device: str
    running: int | None  # the version the device says it runs (0: its local file; None: it has not said)
    running_since: str | None
    latest: ConfigVersionView | None  # the newest version made for it (None: it runs its local file only)


class ConfigIn(BaseModel):
    document: dict = Field(description="the settings, section by section, as in the device's TOML file; what is "
                                       "left out takes its default; a door password of ********** keeps the door's")


class RollbackIn(BaseModel):
    version: int = Field(ge=1)


def _view(v: ConfigVersion) -> ConfigVersionView:
    return ConfigVersionView(version=v.version, document=v.document, changes=v.changes, created_at=v.created_at,
                             created_by=v.created_by, rollback_of=v.rollback_of, published=v.published_at is not None,
                             outcome=v.outcome, how=v.how, reason=v.reason, reported_at=v.reported_at)


@router.get("/{device}/config", response_model=DeviceConfigView)
def current_config(device: DeviceId, gw: GatewayDep,
                   session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> DeviceConfigView:
    """The device's newest configuration version and the one it says it runs."""
    found = gw.store.devices.get(device)
    if found is None:
        raise NotFound("no device '{device}'", device=device)
    latest = gw.store.device_configs.latest(device)
    return DeviceConfigView(device=device, running=found.config_version, running_since=found.config_at,
                            latest=_view(latest) if latest else None)


@router.get("/{device}/config/versions", response_model=list[ConfigVersionView])
def config_versions(device: DeviceId, gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ConfigVersionView]:
    """The device's configuration versions, newest first, each with its changes and what the device made of it."""
    return [_view(v) for v in gw.store.device_configs.history(device, limit)]


@router.put("/{device}/config", status_code=201, response_model=ConfigVersionView)
def new_config(device: DeviceId, body: ConfigIn, gw: GatewayDep,
               session: Annotated[Session, Depends(require("admin"))]) -> ConfigVersionView:
    """A new configuration version for the device, checked against the device's own schema (422 saying where and
    why if not), audited with its changes and sent to the device (signed, sealed to it, retained)."""
    return _view(configs.change(gw.store, gw.secrets, gw.publish, device, body.document, session.user.name))


@router.post("/{device}/config/rollback", status_code=201, response_model=ConfigVersionView)
def rollback_config(device: DeviceId, body: RollbackIn, gw: GatewayDep,
                    session: Annotated[Session, Depends(require("admin"))]) -> ConfigVersionView:
    """Back to an earlier version in one action: a new version with its document."""
    return _view(configs.rollback(gw.store, gw.secrets, gw.publish, device, body.version, session.user.name))
