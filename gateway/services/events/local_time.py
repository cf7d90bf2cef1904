"""The sites' own clock: a local day as the UTC instants storage compares.

Events are stored in UTC; people count in their site's days. Vietnam is
UTC+7, so a day filter on the UTC date puts everything before 07:00 local on
the previous day. Every "today" and "day" the API offers goes through here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from gateway.errors import Invalid
from wire.events import utc_text

DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"


def local_day(zone: str, day: date | None = None) -> tuple[date, str, str]:
    """(the day, its first instant, the next day's first instant) in `zone`, as stored UTC text; today if None."""
    tz = ZoneInfo(zone)
    day = day or datetime.now(tz).date()
    try:  # the first or last days of the calendar have no UTC instants on one side of the zone
        start = datetime.combine(day, time(0), tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    except OverflowError:
        raise Invalid("the day {day} is out of range", day=day.isoformat()) from None
    return day, utc_text(start), utc_text(end)


def local_text(stored: str | None, zone: str, with_date: bool = True) -> str:
    """A stored UTC time as the site reads it: "dd/mm/yyyy HH:MM:SS" (24-hour) in `zone`; "" for None."""
    if not stored:
        return ""
    local = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return local.strftime("%d/%m/%Y %H:%M:%S" if with_date else "%H:%M:%S")


def utc_offset(zone: str, at: str | None = None) -> str:
    """The zone's offset from UTC at instant `at` (now if None), as people write it: "UTC+07:00"."""
    instant = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else datetime.now(timezone.utc)
    offset = instant.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return f"UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
