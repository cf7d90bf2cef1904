"""The gateway's HTTP side: the JSON API, the live stream and the pages.

    create_app(gateway)      one FastAPI app over one running gateway's parts (deps.Gateway)

routes/     one router per resource (auth, users, events, kiosk, people, exams, candidates, audit, health, pages;
            fleet/: devices, configs, the fleet overview, updates, doors; visitors/: ticket types, passes,
            occupancy, numbers)
deps.py     the gateway's parts and the current session, as dependencies; roles and CSRF
errors.py   service errors to HTTP statuses, in one place
security.py request size limits and security headers
templates.py the pages and the exam report rendered in the reader's language (and the report as PDF)
web/        the pages' HTML, JavaScript and CSS
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.api.deps import Gateway
from gateway.api.errors import add_error_handlers
from gateway.api.routes import audit, auth, candidates, events, exams, health, kiosk, pages, people, users
from gateway.api.routes.fleet import configs, devices, doors, overview, updates
from gateway.api.routes.visitors import numbers, occupancy, passes, ticket_types
from gateway.api.security import BodyLimit, LoginGate, SecurityHeaders


def create_app(gateway: Gateway, lifespan=None) -> FastAPI:
    app = FastAPI(title="FaceGate gateway", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Events from FaceGate edge devices, their health, and the audit trail. "
                              "Log in at /api/auth/token, then send `Authorization: Bearer <token>`.")
    app.state.gateway = gateway
    for module in (auth, users, events, devices, configs, overview, updates, doors, kiosk, people, exams, candidates,
                   ticket_types, passes, occupancy, numbers, audit, health, pages):
        app.include_router(module.router)
    app.include_router(health.scrape)
    add_error_handlers(app)
    limits = gateway.config.http
    app.add_middleware(BodyLimit, default=limits.max_body_bytes,
                       per_route={("POST", "/api/subjects"): limits.max_upload_bytes,
                                  ("POST", "/api/exam/candidates/import"): limits.max_upload_bytes})
    app.add_middleware(LoginGate, throttle=gateway.auth.throttle)
    app.add_middleware(SecurityHeaders)  # outermost: every answer gets the headers, a 413 or a 429 too
    return app
