"""The day in numbers: visitors by hour, day, gate, ticket type and way in; the peak inside; refusals by reason --
for a site (or every site), for a day or a range of days on the sites' clock. As the numbers page's charts show
it and as the XLSX the Department of Culture, Sports and Tourism gets each month.

Everything is added up by the database from the hourly counts kept as verdicts are stored (`visits`,
services/visitors/occupancy.py: tens of thousands of rows a month for a busy site, whatever the number of events;
a site's hours are a range of its primary key) and the daily occupancy rows: never the events.
A visitor is someone let in (`granted`) on a lane that does not lead out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.errors import Invalid
from gateway.i18n import N_
from gateway.services.events.local_time import local_day
from gateway.storage import Store

MAX_DAYS = 62  # a month and a little: a monthly report, or two months side by side


@dataclass
class Numbers:
    site: str | None  # None: every site
    first_day: str
    last_day: str
    visitors: int = 0  # let in
    left: int = 0  # let out
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)  # visitors by the hour of the day they came in
    by_day: dict[str, int] = field(default_factory=dict)  # every day of the range, visitors
    by_gate: dict[str, int] = field(default_factory=dict)
    by_ticket_type: dict[str, int] = field(default_factory=dict)  # "" for no ticket (admitted by consent)
    by_method: dict[str, int] = field(default_factory=dict)  # face, qr
    refusals: dict[str, int] = field(default_factory=dict)  # verdict -> how many (everything not granted)
    peak: int = 0  # the most inside at once
    peak_day: str | None = None
    ticket_names: dict[str, str] = field(default_factory=dict)  # code -> name, for the site's ticket types

    def api(self) -> dict:
        return {"site": self.site, "first_day": self.first_day, "last_day": self.last_day, "visitors": self.visitors,
                "left": self.left, "by_hour": self.by_hour, "by_day": self.by_day, "by_gate": self.by_gate,
                "by_ticket_type": self.by_ticket_type, "by_method": self.by_method, "refusals": self.refusals,
                "peak": self.peak, "peak_day": self.peak_day, "ticket_names": self.ticket_names}


def day_in_numbers(store: Store, zone: str, first_day: date, last_day: date | None = None,
                   site: str | None = None) -> Numbers:
    """The numbers from `first_day` to `last_day` (included; the first day alone if None), local days in `zone`."""
    last_day = last_day or first_day
    if last_day < first_day:
        raise Invalid("the range ends before it starts")
    if (last_day - first_day).days >= MAX_DAYS:
        raise Invalid("at most {days} days at once", days=MAX_DAYS)
    if site is not None and site not in store.people.site_ids():
        raise Invalid("unknown site(s): {sites}", sites=site)
    _, start, _ = local_day(zone, first_day)
    _, _, end = local_day(zone, last_day)
    numbers = Numbers(site, first_day.isoformat(), last_day.isoformat())
    numbers.by_day = {(first_day + timedelta(days=n)).isoformat(): 0 for n in range((last_day - first_day).days + 1)}
    tz = ZoneInfo(zone)
    # Added up by the database: by hour and verdict (a few rows an hour), then who came in by gate, way and ticket.
    for hour, verdict, direction, count in store.visits.summed(start[:13], end[:13], site,
                                                               ("hour", "verdict", "direction")):
        if verdict != "granted":
            numbers.refusals[verdict] = numbers.refusals.get(verdict, 0) + count
        elif direction == "out":
            numbers.left += count
        else:
            when = datetime.fromisoformat(hour + ":00:00+00:00").astimezone(tz)
            numbers.visitors += count
            numbers.by_hour[when.hour] += count
            day = when.date().isoformat()
            numbers.by_day[day] = numbers.by_day.get(day, 0) + count
    for device, method, ticket_type, count in store.visits.summed(start[:13], end[:13], site,
                                                                  ("device", "method", "ticket_type"), entering=True):
        numbers.by_gate[device] = numbers.by_gate.get(device, 0) + count
        numbers.by_method[method] = numbers.by_method.get(method, 0) + count
        numbers.by_ticket_type[ticket_type] = numbers.by_ticket_type.get(ticket_type, 0) + count
    for day in store.occupancy.peaks(site, first_day.isoformat(), last_day.isoformat()):
        if day.peak > numbers.peak:
            numbers.peak, numbers.peak_day = day.peak, day.day
    numbers.ticket_names = {t.code: t.name for t in store.ticket_types.of_site(site)}
    return numbers


def workbook(numbers: Numbers, words, site_name: str, verdict_name) -> bytes:
    """The numbers as an XLSX workbook, a sheet each: the summary, by day, by hour, by gate, by ticket type,
    refusals. Counts are numbers (the Department adds them up); names are text, never formulas."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    def text(value: str) -> str:
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)

    book = Workbook()

    def sheet(title: str, heading: tuple[str, str], rows: list[tuple[str, int | str]], first: bool = False) -> None:
        page = book.active if first else book.create_sheet()
        page.title = words.gettext(title)[:31]
        page.append([words.gettext(heading[0]), words.gettext(heading[1])])
        for cell in page[1]:
            cell.font = Font(bold=True)
        for label, value in rows:
            page.append([text(label), value if isinstance(value, int) else text(value)])
            for cell in page[page.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, even "=..." (a ticket type's name): never a formula
        page.column_dimensions["A"].width = 36
        page.column_dimensions["B"].width = 16

    sheet(N_("Summary"), (N_("Figure"), N_("Value")), [
        (words.gettext("Site"), site_name), (words.gettext("From"), numbers.first_day),
        (words.gettext("To"), numbers.last_day), (words.gettext("Visitors let in"), numbers.visitors),
        (words.gettext("Let out"), numbers.left), (words.gettext("Most inside at once"), numbers.peak),
        (words.gettext("Refused"), sum(numbers.refusals.values()))], first=True)
    sheet(N_("By day"), (N_("Day"), N_("Visitors")), list(numbers.by_day.items()))
    sheet(N_("By hour"), (N_("Hour"), N_("Visitors")),
          [(f"{h:02d}:00–{h + 1:02d}:00", n) for h, n in enumerate(numbers.by_hour)])
    sheet(N_("By gate"), (N_("Gate"), N_("Visitors")), sorted(numbers.by_gate.items()))
    sheet(N_("By ticket type"), (N_("Ticket type"), N_("Visitors")),
          [(numbers.ticket_names.get(code, code) if code else words.gettext("no ticket (consent)"), n)
           for code, n in sorted(numbers.by_ticket_type.items())])
    sheet(N_("Refusals"), (N_("Reason"), N_("Refused")),
          [(verdict_name(v), n) for v, n in sorted(numbers.refusals.items())])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
