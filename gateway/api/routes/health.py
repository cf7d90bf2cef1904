"""How ingest is doing: counters, and the messages it had to quarantine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.storage import Session

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/metrics")
def metrics(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> dict:
    """Ingest counters since start, rejects by reason, quarantined messages, live listeners, stored events; which
    replica answered and whether it runs the background jobs."""
    return {"ingest": gw.metrics.snapshot(), "live_listeners": gw.live.listeners,
            "events_stored": gw.store.events.count(), "quarantined_total": gw.store.events.quarantine_count(),
            "replica": gw.config.replica, "runs_jobs": gw.runs_jobs()}


@router.get("/quarantine")
def quarantine(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
               after: Annotated[int, Query(ge=0, le=2**62)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """Messages ingest could neither store nor reject, oldest first (their raw bytes stay in the database)."""
    return [m.api() for m in gw.store.events.quarantined(limit, after)]
