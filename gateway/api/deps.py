"""What a route depends on: the gateway's parts, and the session of the user asking.

A route declares the roles it admits with `require(...)`; `current_session`
finds the token (bearer header, or the login cookie), checks it is live, and
for a cookie on a request that changes something also checks the CSRF token:
another site's page can make a browser send the cookie, but cannot read the
CSRF cookie to echo it in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from gateway.config import GatewayConfig
from gateway.services.security.audit import Anchor
from gateway.services.security.auth import ROLES, STAFF, TICKETING, Auth, csrf_token
from gateway.services.broker.mosquitto import BrokerFiles
from gateway.services.people.enrolment import EnrolmentService
from gateway.services.events.ingest import IngestMetrics
from gateway.services.events.live import LiveFeed
from gateway.services.security.secrets import GatewaySecrets
from gateway.i18n import N_
from gateway.storage import Session, Store

COOKIE = "facegate_token"
CSRF_COOKIE = "facegate_csrf"
BACKGROUND_HEADER = "X-FaceGate-Background"  # a page refreshing itself: not use that keeps a session alive
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

EVERYONE = STAFF  # every person's login: a kiosk's own (role kiosk) is admitted only where a route names it
LIVE_ROLES = ("admin", "supervisor", "operator")
AUDIT_ROLES = ("admin", "auditor")
EXAM_ROLES = ("admin", "supervisor")  # the only roles that see exam data, on every route
TICKET_ROLES = ("admin", TICKETING)  # who sells passes: an admin anywhere, a site's ticketing system at its site


@dataclass
class Gateway:
    """The parts the routes use; one per running gateway (app.state.gateway)."""

    config: GatewayConfig
    store: Store
    auth: Auth
    live: LiveFeed
    metrics: IngestMetrics
    secrets: GatewaySecrets
    anchor: Anchor | None = None
    enrolment: EnrolmentService | None = None
    broker_files: BrokerFiles | None = None
    publish: Callable[[str, bytes], bool] | None = None  # retained QoS 1 on the gateway's broker connection
    send: Callable[[str, bytes], bool] | None = None  # QoS 1, not retained: a command meant for now only
    on_consent_change: Callable[[], None] | None = None  # galleries to recompute now
    runs_jobs: Callable[[], bool] = lambda: True  # this replica holds the background jobs' lease


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(gateway)]


def request_token(request: Request) -> tuple[str | None, bool]:
    """(token, from_cookie): the bearer header's, else the login cookie's."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    return request.cookies.get(COOKIE) or None, True


def current_session(request: Request) -> Session | None:
    """The live session behind the request, or None (no token, unknown, expired or revoked)."""
    token, _ = request_token(request)
    return gateway(request).auth.session_for(token) if token else None


def require(*roles: str):
    """A dependency admitting a live session of one of `roles`; yields its Session."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown}")

    # async: it runs on the event loop instead of hopping to a worker thread and back (a token lookup is one
    # indexed read), which keeps every route quick while the server is busy -- with a login flood, say.
    async def dependency(request: Request) -> Session:
        token, from_cookie = request_token(request)
        if not token:
            raise HTTPException(401, N_("log in first: a bearer token or the login cookie is required"),
                                headers={"WWW-Authenticate": "Bearer"})
        session = gateway(request).auth.session_for(token)
        if session is None:
            raise HTTPException(401, N_("your session has expired or was logged out; log in again"),
                                headers={"WWW-Authenticate": "Bearer"})
        if from_cookie and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(token).encode()):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (a change made with the login "
                                         f"cookie must echo the {CSRF_COOKIE} cookie)")
        if session.user.role not in roles:
            raise HTTPException(403, f"role {session.user.role} may not use this; needs one of: {', '.join(roles)}")
        # Use, unless a page is refreshing itself; recorded at most once a minute (a write: off the event loop).
        if request.headers.get(BACKGROUND_HEADER) != "1" and gateway(request).auth.needs_use_recorded(session):
            await run_in_threadpool(gateway(request).auth.used, session)
        return session

    dependency.roles = roles  # read by the route table test: every route must declare its roles
    return dependency


def actor(session: Session) -> str:
    return f"user:{session.user.name}"


def site_scope(session: Session, site: str | None) -> str | None:
    """The site a request may concern: a ticketing login's own (403 if it names another), else `site` as asked."""
    if session.user.role != TICKETING:
        return site
    if site is not None and site != session.user.site:
        raise HTTPException(403, N_("this login sells the passes of its own site only"))
    return session.user.site
