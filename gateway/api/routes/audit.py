"""The audit log: its entries, and the check of its chain against the signed anchor."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from itertools import chain, islice
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway.api.deps import AUDIT_ROLES, GatewayDep, actor, require
from gateway.api.params import time_param
from gateway.api.templates import reader_words
from gateway.i18n.actions import ACTION_NAMES
from gateway.services.events.exports import audit_header, audit_rows, csv_lines
from gateway.services.security.audit import verify
from gateway.storage import AuditQuery, Session
from wire.topics import ID_PATTERN

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditCheck(BaseModel):
    ok: bool
    entries: int
    events: int
    first_broken: int | None
    reason: str | None


@router.get("/verify", response_model=AuditCheck)
def verify_audit(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> AuditCheck:
    """Recompute the audit chain and every event digest, compare with the signed anchor; names the first broken
    link."""
    report = verify(gw.store, gw.anchor)
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "audit.verified", None, {"ok": report.ok})
    return AuditCheck(**report.__dict__)


Who = Literal["people", "reads", "devices", "all"]


def audit_query(
    actor_: Annotated[str | None, Query(alias="actor", min_length=1, max_length=200,
                                        description="exactly, e.g. user:ana or device:gate-01")] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=100,
                                        description='exactly, or a prefix ending in "*" (exam.flag.*)')] = None,
    target: Annotated[str | None, Query(min_length=1, max_length=200,
                                        description="a person, a session, a device... as the action names it")] = None,
    device: Annotated[str | None, Query(pattern=ID_PATTERN.pattern,
                                        description="what the device did and what was done to it")] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO 8601; UTC if no zone)")] = None,
    until: Annotated[datetime | None, Query(description="before")] = None,
    who: Annotated[Who, Query(description="people's actions, the pages' reads, devices' events, or all")] = "all",
    before: Annotated[int | None, Query(ge=1, le=2**62, description="cursor: the last seq of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditQuery:
    """The audit search from the query string (shared by the list and the CSV export)."""
    return AuditQuery(actor=actor_, action=action, target=target, device=device, since=time_param(since),
                      until=time_param(until), who=None if who == "all" else who, before=before, limit=limit)


def _filters(q: AuditQuery) -> dict:
    return {k: v for k, v in q.__dict__.items() if v is not None and k not in ("before", "limit")}


@router.get("")
def list_audit(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
               q: Annotated[AuditQuery, Depends(audit_query)],
               after: Annotated[int | None, Query(ge=0, le=2**62, description="chain order from here instead")] = None
               ) -> list[dict]:
    """Audit entries newest first, filtered; page with `before` = the last `seq` returned. With `after`: the chain
    in its own order from that entry (the filters do not apply)."""
    if after is not None:
        return [row.api() for row in gw.store.audit.entries(after, q.limit)]
    return [row.api() for row in gw.store.audit.search(q)]


class ActionName(BaseModel):
    code: str
    name: str


@router.get("/actions", response_model=list[ActionName])
def action_names(request: Request, session: Annotated[Session, Depends(require(*AUDIT_ROLES))]) -> list[ActionName]:
    """The actions the log records, each by its name in the reader's language, in the order of the names."""
    words = reader_words(request, session, accept_language=True)
    return sorted((ActionName(code=code, name=words.gettext(name)) for code, name in ACTION_NAMES.items()),
                  key=lambda a: a.name.casefold())


@router.get("/export.csv")
def export_audit(request: Request, gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
                 q: Annotated[AuditQuery, Depends(audit_query)]) -> StreamingResponse:
    """Every entry matching the filters as CSV, newest first (`before` and `limit` do not apply), for Excel: a
    byte-order mark, the columns named in the reader's language, each action by name and code, a detail's reason
    and note in columns of their own."""
    zone = gw.config.time_zone
    words = reader_words(request, session, accept_language=True)
    rows = audit_rows(gw.store, replace(q, before=None), zone, words)
    # The first read before the answer starts: a filter the database refuses is a 422, not a file cut off.
    first = list(islice(rows, 1))
    with gw.store.db.transaction() as tx:
        tx.audit(actor(session), "audit.exported", None, {"filters": _filters(q)})
    return StreamingResponse(csv_lines(audit_header(zone, words), chain(first, rows)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="facegate-audit.csv"'})
