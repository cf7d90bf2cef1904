"""Files that leave the gateway for someone's spreadsheet: CSV, streamed, every cell safe to open.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a
formula to Excel and LibreOffice, and text in an export may come from anyone
(a device's id, a visitor's name, an operator's note). Such a cell is written
with a leading apostrophe, which spreadsheets show as text and do not run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import replace

from gateway.services.events.local_time import local_text
from gateway.storage import AuditQuery, Store

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 5000  # rows read per query while streaming


def spreadsheet_safe(value: object) -> str:
    """The cell's text, made inert if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text, a line at a time (so an export of millions of rows never sits in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(v) for v in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def audit_header(zone: str) -> tuple[str, ...]:
    """audit_rows' columns: the time as the site reads it (dd/mm/yyyy, 24-hour, in `zone`) and in UTC."""
    return ("seq", f"time ({zone})", "at (UTC)", "actor", "action", "target", "detail", "hash")


def audit_rows(store: Store, query: AuditQuery, zone: str) -> Iterator[tuple]:
    """Every entry matching `query` (its `limit` ignored), newest first, read a chunk at a time."""
    q = replace(query, limit=CHUNK)
    while rows := store.audit.search(q):
        for r in rows:
            yield r.seq, local_text(r.at, zone), r.at, r.actor, r.action, r.target, r.detail, r.hash
        q = replace(q, before=rows[-1].seq)
