"""Parsing the seeds' ISO 8601 dates into aware datetimes."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from feeds.errors import kind_of


def parse_datetime(value: object, default_tz: tzinfo) -> datetime:
    """An aware datetime from an ISO 8601 string.

    With an offset, the offset is kept as given; without one, ``default_tz``
    applies; a date alone means midnight. Raises ``ValueError`` with a reason
    fit for a person otherwise.
    """
    if isinstance(value, datetime):  # a loader that resolves timestamps itself
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            # Never the text itself: a message may reach a log, and the
            # field may hold anything a pipeline put there.
            raise ValueError("not an ISO 8601 date or date-time") from None
    else:
        raise ValueError(f"expected an ISO 8601 date, got {kind_of(value)}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed
