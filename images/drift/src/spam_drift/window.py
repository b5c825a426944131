"""The time window of a drift run: ``--since 1h`` or ``--start/--end`` (UTC, end exclusive)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spam_drift.errors import DriftInputError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_WINDOW = timedelta(days=31)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``1h``, ``7d``, ``2w`` → timedelta (positive)."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise DriftInputError(
            f"invalid duration {text!r}: a positive number and a unit s, m, h, d or w (e.g. 1h)"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without offset is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DriftInputError(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-12-05T13:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def resolve(
        cls,
        since: str | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        now: datetime | None = None,
    ) -> Window:
        """``since`` (a duration before ``end`` or now) or ``start`` [+ ``end``, default now]."""
        if since and start:
            raise DriftInputError("give either --since or --start/--end, not both")
        end_dt = _as_time(end) if end is not None else (now or datetime.now(UTC))
        if since:
            start_dt = end_dt - parse_duration(since)
        elif start is not None:
            start_dt = _as_time(start)
        else:
            raise DriftInputError("no window: give --since (e.g. 1h) or --start [--end]")
        if start_dt >= end_dt:
            raise DriftInputError(f"empty window: start {start_dt:%FT%TZ} is not before end")
        if end_dt - start_dt > MAX_WINDOW:
            raise DriftInputError(f"window longer than {MAX_WINDOW.days} days")
        return cls(start_dt.astimezone(UTC), end_dt.astimezone(UTC))

    def hours(self) -> list[datetime]:
        """The UTC hours whose partitions can hold rows of the window."""
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        out = []
        while hour < self.end:
            out.append(hour)
            hour += timedelta(hours=1)
        return out

    @property
    def label(self) -> str:
        """``20261205T1300Z-20261205T1400Z``: the window in file names."""
        return f"{_stamp(self.start)}-{_stamp(self.end)}"

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ" if moment.second else "%Y%m%dT%H%MZ")


def _as_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return parse_time(value)
