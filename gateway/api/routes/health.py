"""How the gateway is doing: ingest's counters, the messages it had to quarantine, and /metrics for Prometheus."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from gateway.api.deps import AUDIT_ROLES, GatewayDep, require
from gateway.services.operations.prometheus import CONTENT_TYPE, GatewayCollector, exposition
from gateway.storage import Session

router = APIRouter(prefix="/api", tags=["health"])
scrape = APIRouter(tags=["health"])  # where Prometheus looks by default: /metrics


@scrape.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def prometheus_metrics(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> Response:
    """Prometheus exposition: ingest rate and rejects by reason, batch latency, quarantine size, database pool,
    each device's health (online, last heartbeat, fps, outbox depth, clock skew). Scrape with an auditor's token."""
    collector = GatewayCollector(gw.store, gw.metrics, gw.config.replica, gw.runs_jobs, lambda: gw.live.listeners)
    return Response(await run_in_threadpool(exposition, collector), media_type=CONTENT_TYPE)


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
