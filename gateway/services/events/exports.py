"""Files that leave the gateway for someone's spreadsheet: CSV, streamed, every cell safe to open.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a
formula to Excel and LibreOffice, and text in an export may come from anyone
(a device's id, a visitor's name, an operator's note). Such a cell is written
with a leading apostrophe, which spreadsheets show as text and do not run.
The file starts with a UTF-8 byte-order mark: without it Excel reads the
bytes as the machine's code page and garbles Vietnamese.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

from gateway.i18n import N_
from gateway.i18n.actions import action_name
from gateway.services.events.local_time import local_text
from gateway.storage import AuditQuery, Store

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 5000  # rows read per query while streaming


def spreadsheet_safe(value: object) -> str:
    """The cell's text, made inert if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text, a line at a time (so an export of millions of rows never sits in memory), after the byte-order
    mark."""
    buffer = io.StringIO("\ufeff")
    buffer.seek(1)
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(v) for v in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# The audit export's columns, named in the reader's language. A detail's reason and note have columns of their own;
# the rest of it stays together, as JSON.
AUDIT_COLUMNS = (N_("entry"), N_("time ({zone})"), N_("time (UTC)"), N_("who"), N_("action"), N_("action code"),
                 N_("target"), N_("reason"), N_("note"), N_("other details"), N_("hash"))


def audit_header(zone: str, words) -> tuple[str, ...]:
    """audit_rows' columns in the reader's language (`words`: their catalogue): the time as the site reads it
    (dd/mm/yyyy, 24-hour, in `zone`) and in UTC."""
    return tuple(words.gettext(column, zone=zone) for column in AUDIT_COLUMNS)


def audit_rows(store: Store, query: AuditQuery, zone: str, words) -> Iterator[tuple]:
    """Every entry matching `query` (its `limit` ignored), newest first, read a chunk at a time."""
    q = replace(query, limit=CHUNK)
    while rows := store.audit.search(q):
        for r in rows:
            detail = json.loads(r.detail) if r.detail else {}
            detail = detail if isinstance(detail, dict) else {"detail": detail}
            reason, note = detail.pop("reason", ""), detail.pop("note", "")
            rest = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""
            yield (r.seq, local_text(r.at, zone), r.at, r.actor, words.gettext(action_name(r.action)), r.action,
                   r.target, reason, note, rest, r.hash)
        q = replace(q, before=rows[-1].seq)
