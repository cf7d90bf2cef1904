"""The day in numbers, as a site manager reads it and the Department gets it: visitors by hour (the site's clock),
day, gate, ticket type and way in; the peak inside; refusals by reason; the XLSX read back; the chart library the
page loads is the pinned one."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from conftest import REPO
from gateway.errors import Invalid
from gateway.i18n import catalogue
from gateway.i18n.names import name_of
from gateway.services.devices.registry import add_site
from gateway.services.visitors import passes
from gateway.services.visitors.numbers import day_in_numbers, workbook
from gateway.services.visitors.occupancy import correct
from gateway.services.visitors.passes import Sale
from gateway.services.visitors.ticket_types import add_type
from gateway.storage import Store, StoredEvent
from stack import register_device, store_events
from wire.events import utc_text
from wire.ids import uuid7

ZONE = "Asia/Ho_Chi_Minh"  # UTC+7


def verdict(seq: int, at: datetime, verdict: str = "granted", direction: str | None = "in", device: str = "gate-01",
            method: str = "face", pass_id: str | None = None) -> StoredEvent:
    body = {"kind": "verdict", "verdict": verdict, "direction": direction, "method": method, "pass_id": pass_id}
    return StoredEvent(str(uuid7()), "site-a", device, "verdict", seq, utc_text(at), utc_text(at), verdict, None, 0.5,
                       json.dumps(body), "sig")


@pytest.fixture
def day(database):
    """Yesterday at a site (Hội An), on its clock: visitors from 07:00 to 17:00, through two gates, by face and by
    ticket; a few turned away."""
    store = Store.open(database)
    add_site(store, "site-a", "Phố cổ Hội An")
    for device in ("gate-01", "gate-02"):
        register_device(store, device)
    add_type(store, "site-a", "day", "Vé tham quan trong ngày", "day", "user:admin-1")
    ticket = passes.sell(store, Sale("site-a", "day"), "user:admin-1", ZONE)["passes"][0]["id"]
    yesterday = date.today() - timedelta(days=1)
    local = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=timezone(timedelta(hours=7)))
    events, seq = [], 0
    for hour, n in ((7, 3), (9, 5), (16, 2)):  # 07:xx on the site's clock is 00:xx UTC
        for i in range(n):
            seq += 1
            events.append(verdict(seq, local + timedelta(hours=hour, minutes=i), device="gate-01" if i % 2 else "gate-02"))
    seq += 1
    events.append(verdict(seq, local + timedelta(hours=10), method="qr", pass_id=ticket))
    for kind in ("unknown", "unknown", "forged", "full"):
        seq += 1
        events.append(verdict(seq, local + timedelta(hours=11), verdict=kind))
    for i in range(4):
        seq += 1
        events.append(verdict(seq, local + timedelta(hours=17, minutes=i), direction="out"))
    events.append(verdict(seq + 1, local - timedelta(minutes=30)))  # 23:30 the day before: not this day's
    assert set(store_events(store, events)) == {"stored"}
    return store, yesterday


def test_the_day_counts_visitors_by_the_sites_hour_gate_ticket_and_way_in(day):
    store, yesterday = day
    n = day_in_numbers(store, ZONE, yesterday, site="site-a")
    assert (n.visitors, n.left) == (11, 4)
    assert {h: c for h, c in enumerate(n.by_hour) if c} == {7: 3, 9: 5, 10: 1, 16: 2}  # the site's hours, not UTC's
    assert n.by_day == {yesterday.isoformat(): 11}
    assert n.by_gate == {"gate-01": 5, "gate-02": 6}  # the ticket came in at gate-01
    assert n.by_ticket_type == {"": 10, "day": 1} and n.ticket_names["day"] == "Vé tham quan trong ngày"
    assert n.by_method == {"face": 10, "qr": 1}
    assert n.refusals == {"unknown": 2, "forged": 1, "full": 1}
    # A range: every day in it, the days without anyone too.
    week = day_in_numbers(store, ZONE, yesterday - timedelta(days=6), yesterday, "site-a")
    assert len(week.by_day) == 7 and sum(week.by_day.values()) == 12 and week.by_day[yesterday.isoformat()] == 11
    with pytest.raises(Invalid):
        day_in_numbers(store, ZONE, yesterday, yesterday - timedelta(days=1))
    with pytest.raises(Invalid):
        day_in_numbers(store, ZONE, yesterday - timedelta(days=90), yesterday)


def test_the_departments_workbook_reads_back_in_vietnamese_with_its_counts_as_numbers(day):
    store, yesterday = day
    correct(store, "site-a", 37, "user:operator-1", ZONE)  # today's peak: not in yesterday's report
    n = day_in_numbers(store, ZONE, yesterday, site="site-a")
    vi = catalogue("vi")
    book = load_workbook(io.BytesIO(workbook(n, vi, "Phố cổ Hội An", lambda v: vi.gettext(name_of(v)))))
    assert book.sheetnames == [vi.gettext(s) for s in ("Summary", "By day", "By hour", "By gate", "By ticket type",
                                                        "Refusals")]
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert summary[vi.gettext("Site")] == "Phố cổ Hội An"
    assert summary[vi.gettext("Visitors let in")] == 11 and summary[vi.gettext("Refused")] == 4
    tickets = dict(book.worksheets[4].iter_rows(min_row=2, values_only=True))
    assert tickets == {"Vé tham quan trong ngày": 1, vi.gettext("no ticket (consent)"): 10}
    refusals = dict(book.worksheets[5].iter_rows(min_row=2, values_only=True))
    assert refusals[vi.gettext("forged ticket")] == 1 and refusals[vi.gettext("site full")] == 1
    hours = dict(book.worksheets[2].iter_rows(min_row=2, values_only=True))
    assert hours["09:00–10:00"] == 5 and len(hours) == 24


def test_the_page_loads_the_pinned_chart_library():
    readme = (REPO / "gateway" / "api" / "vendor" / "README.md").read_text(encoding="utf-8")
    pinned = re.search(r"`chart\.umd\.min\.js` .*\| `([0-9a-f]{64})` \|", readme).group(1)
    served = (REPO / "gateway" / "api" / "vendor" / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(served).hexdigest() == pinned
    assert b"Chart.js v4.6.2" in served[:200]
