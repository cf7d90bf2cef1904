"""The people who use the pages and the API: added, given a role, disabled, given a new password by an admin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gateway.api.deps import GatewayDep, actor, require
from gateway.services.security.auth import ROLES
from gateway.storage import Session, User

router = APIRouter(prefix="/api/users", tags=["users"])
Admin = Annotated[Session, Depends(require("admin"))]
UserName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Role = Literal[ROLES]  # type: ignore[valid-type]


class UserView(BaseModel):
    name: str
    role: str
    disabled: bool
    language: str | None  # None: the gateway's default
    device: str | None  # a kiosk login's kiosk (made with the kiosk: POST /api/kiosks)
    site: str | None = None  # a ticketing login's site: the only one whose passes it may sell


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=1024)
    site: str | None = Field(None, max_length=64)  # a ticketing login's site (role ticketing), else none


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)  # a new one, set by an admin


def _view(user: User) -> UserView:
    return UserView(name=user.name, role=user.role, disabled=user.disabled, language=user.language,
                    device=user.device, site=user.site)


@router.get("", response_model=list[UserView])
def list_users(gw: GatewayDep, session: Admin) -> list[UserView]:
    """Every user and their role (never a password or its hash)."""
    return [_view(u) for u in gw.auth.users()]


@router.post("", status_code=201, response_model=UserView)
async def add_user(body: UserIn, gw: GatewayDep, session: Admin) -> UserView:
    """Add a user (audited). A site's ticketing system is a user too: role `ticketing`, bound to its `site`; it logs
    in like anyone and sells that site's passes, nothing else."""
    await run_in_threadpool(gw.auth.add_user, body.name, body.role, body.password, actor(session), None, body.site)
    return _view(gw.store.users.get(body.name))


@router.patch("/{name}", response_model=UserView)
async def change_user(name: UserName, body: UserChange, gw: GatewayDep, session: Admin) -> UserView:
    """Change a user's role, disable or enable them, or give them a new password; their sessions end (audited).
    The last admin who can log in cannot be disabled or demoted (409)."""
    return _view(await run_in_threadpool(gw.auth.change_user, name, actor(session), body.role, body.disabled,
                                         body.password))
