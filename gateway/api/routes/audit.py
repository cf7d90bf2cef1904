"""The audit log: its entries, and the check of its chain against the signed anchor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from gateway.api.deps import AUDIT_ROLES, GatewayDep, actor, require
from gateway.services.audit import verify
from gateway.storage import Session

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


@router.get("")
def list_audit(gw: GatewayDep, session: Annotated[Session, Depends(require(*AUDIT_ROLES))],
               after: Annotated[int, Query(ge=0, le=2**62)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """Audit entries in chain order, after entry `after`."""
    return [row.api() for row in gw.store.audit.entries(after, limit)]
