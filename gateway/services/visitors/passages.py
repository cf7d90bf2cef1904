"""What the gates' verdicts change for a site's visitors, a batch of stored events at a time, in its transaction:

- the hourly counts the day in numbers reads (`visits`: by gate, verdict, direction, way in and ticket type);
- the people inside each site on the day each was captured: a granted verdict on an `in` lane adds one, on an
  `out` lane takes one away, never below nobody (services/visitors/occupancy.py), the day's peak kept;
- an entry on the pass a granted verdict names, if it is a pass of the gate's own site.

Each verdict's body is read once, each pass and each site's day looked up once a batch: ingest stores thousands
of events a second.
"""

from __future__ import annotations

import json

from gateway.services.visitors.occupancy import local_date
from gateway.storage import Pass, Store, StoredEvent, Tx, VisitCount


def record_passages(store: Store, tx: Tx, stored: list[StoredEvent], zone: str) -> None:
    """Count the batch's stored verdicts, move each site's count of people inside, and use their passes' entries."""
    counts: dict[tuple, int] = {}
    held: dict[tuple[str, str], Pass | None] = {}  # (site, pass) -> the pass, if of that site (a gate's own)
    inside: dict[tuple[str, str], tuple[int, int] | None] = {}  # (site, local day) -> (inside, peak) as it goes
    for event in stored:
        if event.kind != "verdict" or not event.verdict:
            continue
        body = json.loads(event.body)
        pass_id, direction = body.get("pass_id"), body.get("direction") or ""
        if pass_id and (event.site, pass_id) not in held:
            found = store.passes.get(pass_id, tx)
            held[(event.site, pass_id)] = found if found is not None and found.site == event.site else None
        on_pass = held.get((event.site, pass_id)) if pass_id else None
        key = (event.site, event.device, event.captured_at[:13], event.verdict, direction,
               body.get("method") or "face", on_pass.ticket_type if on_pass else "")
        counts[key] = counts.get(key, 0) + 1
        if event.verdict != "granted":
            continue
        if on_pass is not None:
            store.passes.entered(tx, on_pass.id)
        if direction in ("in", "out"):
            day = local_date(event.captured_at, zone)
            if (event.site, day) not in inside:
                now = store.occupancy.of(event.site, day, tx)
                inside[(event.site, day)] = (now.inside, now.peak) if now is not None else None
            was = inside[(event.site, day)]
            if was is not None:
                count = max(0, was[0] + (1 if direction == "in" else -1))
                inside[(event.site, day)] = (count, max(was[1], count))
    for (site, day), figures in inside.items():
        if figures is not None:
            store.occupancy.set_inside(tx, site, day, *figures)
    store.visits.add(tx, [VisitCount(*key, count) for key, count in sorted(counts.items())])
