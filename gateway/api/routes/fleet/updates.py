"""Updates over the air: published model packs and FaceGate releases and their rollouts for admins (auditors read),
and their files for the devices themselves, each request signed by the device that makes it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, model_validator

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.services.updates import rollouts
from gateway.services.updates.downloads import authenticate_device, pack_file, release_file
from gateway.storage import Device, Rollout, Session
from wire.topics import ID_PATTERN
from wire.updates import FILE_NAME

router = APIRouter(prefix="/api", tags=["updates"])
PackName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class PackView(BaseModel):
    name: str
    version: int
    files: list[dict]  # [{name, sha256, size}]
    references: int  # photos in its self-test
    published_at: str
    published_by: str


class ReleaseView(BaseModel):
    version: int  # the gateway's number
    release: str  # FaceGate's version
    files: list[dict]  # [{name, sha256, size}]
    published_at: str
    published_by: str


class StageIn(BaseModel):
    """One stage: the devices named, every device of a site, or a share of the fleet (per cent)."""

    devices: list[Annotated[str, Field(pattern=ID_PATTERN.pattern)]] | None = Field(None, max_length=1000)
    site: str | None = Field(None, pattern=ID_PATTERN.pattern)
    share: float | None = Field(None, gt=0, le=100)

    @model_validator(mode="after")
    def _one(self) -> StageIn:
        if sum(x is not None for x in (self.devices, self.site, self.share)) != 1:
            raise ValueError("a stage names its devices, a site or a share, one of them")
        return self


class RolloutIn(BaseModel):
    kind: Literal["pack", "software"] = "pack"
    name: str = Field("facegate", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="the pack (a release: facegate)")
    version: int = Field(ge=1, le=2**31 - 1, description="the pack's version, or the release's number")
    stages: list[StageIn] = Field(default_factory=list, max_length=20,
                                  description="stage by stage; the devices no stage names are the last stage")
    rest: bool = Field(True, description="false: only the devices the stages name get it")


class StopIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class RolloutDeviceView(BaseModel):
    device: str
    outcome: str | None  # applied | refused | None (not heard of yet)
    reason: str | None  # refused: the device's words (untrusted: shown as text)
    self_test: float | None  # the least cosine of its self-test
    rolled_back: bool  # sent back to the version it ran before


class RolloutView(BaseModel):
    id: int
    kind: str  # pack | software
    name: str
    version: int
    release: str | None  # software: FaceGate's version
    stage: int  # the stage going out (1-based)
    stages: list[list[RolloutDeviceView]]
    state: str  # running | done | stopped
    reason: str | None
    created_at: str
    created_by: str
    updated_at: str


def _rollout_view(gw, rollout: Rollout) -> RolloutView:
    sent = gw.store.updates.of_rollout(rollout.id)
    firsts = {c.device: c for c in reversed(sent) if not c.rollback}
    back = {c.device for c in sent if c.rollback}
    stages = [[RolloutDeviceView(device=d, outcome=firsts[d].outcome if d in firsts else None,
                                 reason=firsts[d].reason if d in firsts else None,
                                 self_test=firsts[d].self_test if d in firsts else None, rolled_back=d in back)
               for d in stage] for stage in rollout.stages]
    made = gw.store.updates.release(rollout.version) if rollout.kind == "software" else None
    return RolloutView(id=rollout.id, kind=rollout.kind, name=rollout.name, version=rollout.version,
                       release=made.release if made else None,
                       stage=rollout.stage + 1, stages=stages, state=rollout.state, reason=rollout.reason,
                       created_at=rollout.created_at, created_by=rollout.created_by, updated_at=rollout.updated_at)


@router.get("/packs", response_model=list[PackView])
def list_packs(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> list[PackView]:
    """Every published model pack version, newest first (`facegate packs publish` publishes one)."""
    return [PackView(name=p.name, version=p.version, files=p.files, references=len(p.reference),
                     published_at=p.published_at, published_by=p.published_by) for p in gw.store.updates.packs()]


@router.get("/releases", response_model=list[ReleaseView])
def list_releases(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> list[ReleaseView]:
    """Every published FaceGate release, newest first (`facegate releases publish` publishes one)."""
    return [ReleaseView(version=r.version, release=r.release, files=r.files, published_at=r.published_at,
                        published_by=r.published_by) for r in gw.store.updates.releases()]


@router.get("/rollouts", response_model=list[RolloutView])
def list_rollouts(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> list[RolloutView]:
    """Rollouts, newest first: their stage, each device's outcome, why one stopped."""
    return [_rollout_view(gw, r) for r in gw.store.updates.rollouts()]


@router.post("/rollouts", status_code=201, response_model=RolloutView)
def start_rollout(body: RolloutIn, gw: GatewayDep, session: Annotated[Session, Depends(require("admin"))]
                  ) -> RolloutView:
    """Roll a published pack version, or release, out stage by stage; the first stage's devices get it now."""
    rollout = rollouts.start(gw.store, gw.secrets, gw.publish, body.name, body.version,
                             [s.model_dump(exclude_none=True) for s in body.stages], session.user.name,
                             gw.config.download_url, body.rest, body.kind)
    return _rollout_view(gw, rollout)


@router.post("/rollouts/{rollout_id}/stop", response_model=RolloutView)
def stop_rollout(rollout_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: StopIn, gw: GatewayDep,
                 session: Annotated[Session, Depends(require("admin"))]) -> RolloutView:
    """Stop a rollout: no further stage gets it, and every device that took it goes back to what it ran before."""
    rollout = rollouts.stop(gw.store, gw.secrets, gw.publish, rollout_id, session.user.name, body.reason,
                            gw.config.download_url)
    return _rollout_view(gw, rollout)


def signed_device(request: Request, gw: GatewayDep) -> Device:
    """The device whose signature this request carries (401 otherwise): the role that fetches update files."""
    return authenticate_device(gw.store, request.headers.get("authorization", ""), request.method,
                               request.url.path)


signed_device.roles = ("device",)  # what the routes' role check reads (tests/test_api_auth.py): no user's login


@router.get("/updates/packs/{name}/{version}/{file}", response_class=FileResponse)
def pack_download(name: PackName, version: Annotated[int, Path(ge=1, le=2**31 - 1)],
                  file: Annotated[str, Path(pattern=FILE_NAME)],
                  gw: GatewayDep, device: Annotated[Device, Depends(signed_device)]) -> FileResponse:
    """One file of a published pack, for a device (HTTP ranges: a cut download goes on where it stopped)."""
    return FileResponse(pack_file(gw.store, gw.config.updates_dir, name, version, file),
                        media_type="application/octet-stream")


@router.get("/updates/releases/{version}/{file}", response_class=FileResponse)
def release_download(version: Annotated[int, Path(ge=1, le=2**31 - 1)],
                     file: Annotated[str, Path(pattern=FILE_NAME)], gw: GatewayDep,
                     device: Annotated[Device, Depends(signed_device)]) -> FileResponse:
    """One file of a published release, for a device (HTTP ranges, as for packs)."""
    return FileResponse(release_file(gw.store, gw.config.updates_dir, version, file),
                        media_type="application/octet-stream")
