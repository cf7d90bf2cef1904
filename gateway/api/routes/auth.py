"""Logging in and out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from gateway.api.deps import COOKIE, CSRF_COOKIE, EVERYONE, GatewayDep, require
from gateway.i18n import LANGUAGES, N_
from gateway.services.security.auth import csrf_token
from gateway.storage import Session

router = APIRouter(prefix="/api", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str
    csrf_token: str  # echo in X-CSRF-Token when changing something with the login cookie


class Me(BaseModel):
    name: str
    role: str
    language: str  # the user's own choice, else the gateway's default
    time_zone: str  # the sites' zone: every local time and day the pages show


class LanguageChoice(BaseModel):
    language: Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]


@router.post("/auth/token", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, response: Response, gw: GatewayDep) -> TokenResponse:
    """Exchange a user name and password for a bearer token (public: the only route without a role).

    Also sets it as an HttpOnly, same-site cookie for the pages, with a readable CSRF cookie beside it.
    Failed logins back off per user and per address (429 with Retry-After).
    """
    address = request.client.host if request.client else "unknown"
    result = await gw.auth.login(body.username, body.password, address)
    if result is None:
        raise HTTPException(401, N_("wrong user name or password"), headers={"WWW-Authenticate": "Bearer"})
    token, expires_at = result
    secure = request.url.scheme == "https"
    max_age = int(gw.auth.token_ttl_s)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=max_age, secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf_token(token), httponly=False, samesite="strict", max_age=max_age,
                        secure=secure)
    return TokenResponse(access_token=token, expires_at=expires_at, csrf_token=csrf_token(token))


login.public = True  # type: ignore[attr-defined]


@router.post("/auth/logout", status_code=204)
def logout(response: Response, gw: GatewayDep, session: Annotated[Session, Depends(require(*EVERYONE))]) -> Response:
    """Revoke this session's token everywhere (open live streams close too) and clear the cookies."""
    gw.auth.logout(session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/me", response_model=Me)
async def me(gw: GatewayDep, session: Annotated[Session, Depends(require(*EVERYONE))]) -> Me:
    """Who the token belongs to, and the language and time zone their pages use."""
    return Me(name=session.user.name, role=session.user.role,
              language=session.user.language or gw.config.default_language, time_zone=gw.config.time_zone)


@router.put("/me/language", status_code=204)
def set_language(body: LanguageChoice, gw: GatewayDep,
                 session: Annotated[Session, Depends(require(*EVERYONE))]) -> Response:
    """Pick the language of your own pages and reports (audited)."""
    gw.auth.set_language(session, body.language)
    return Response(status_code=204)
