"""Query parameter types and conversions shared by the routers."""

from __future__ import annotations

from datetime import datetime, timezone

from wire.events import utc_text


def time_param(value: datetime | None) -> str | None:
    """A time filter as stored text (UTC, milliseconds); a time without a zone is taken as UTC."""
    if value is None:
        return None
    return utc_text(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
