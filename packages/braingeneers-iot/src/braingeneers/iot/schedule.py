"""Scheduled jobs of a device's ``SCHEDULE`` command: parsing ``ADD`` requests and their next run.

A job repeats a request (``DO``) every ``EVERY_X_SECONDS``, ``EVERY_X_MINUTES``,
``EVERY_X_HOURS`` or ``EVERY_X_DAYS``, optionally starting at ``AT`` (``"HH:MM"`` daily or
``":MM"`` hourly, UTC), or runs once (``FLAGS: "ONCE"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from braingeneers.core.errors import ConfigError

__all__ = ["INTERVAL_UNITS", "ScheduledJob", "next_at", "parse_job"]

INTERVAL_UNITS = {"EVERY_X_SECONDS": 1, "EVERY_X_MINUTES": 60, "EVERY_X_HOURS": 3600, "EVERY_X_DAYS": 86400}
"""The interval fields of ``SCHEDULE ADD`` and their length in seconds."""


@dataclass
class ScheduledJob:
    """One job in a device's schedule.

    Attributes
    ----------
    tag
        The job's number (unique within the device).
    key
        The command it runs (``<KEY>`` of ``<KEY>-REQUEST``).
    message
        The request it runs.
    next_run
        When it runs next.
    interval
        Time between runs, or ``None`` for a one-shot job.
    once
        Run once, then drop the job.
    """

    tag: int
    key: str
    message: dict[str, Any]
    next_run: datetime
    interval: timedelta | None
    once: bool

    def describe(self) -> dict[str, Any]:
        """Return the job as listed in the shadow's ``SCHEDULE`` and in ``SCHEDULE GET``."""
        return {
            "TAG": str(self.tag),
            "COMMAND": f"{self.key}-REQUEST",
            "NEXT_RUN": self.next_run.isoformat(),
            "EVERY_SECONDS": self.interval.total_seconds() if self.interval else None,
            "ONCE": self.once,
        }


def parse_job(message: Mapping[str, Any], now: datetime, tag: int) -> ScheduledJob:
    """Return the job a ``SCHEDULE ADD`` request ``message`` describes, numbered ``tag``.

    Raises
    ------
    ConfigError
        When ``DO``, the interval fields or ``AT`` are missing or malformed.
    """
    do = message.get("DO")
    command = str(do.get("COMMAND", "")) if isinstance(do, Mapping) else ""
    if not command.endswith("-REQUEST") or len(command) <= len("-REQUEST"):
        raise ConfigError("SCHEDULE ADD needs DO with COMMAND '<KEY>-REQUEST'")
    job_key = command[: -len("-REQUEST")]
    units = [(name, factor) for name, factor in INTERVAL_UNITS.items() if message.get(name) not in (None, "")]
    at = message.get("AT")
    if len(units) > 1:
        raise ConfigError(f"SCHEDULE ADD takes one of {', '.join(INTERVAL_UNITS)}, got {len(units)}")
    if not units and at in (None, ""):
        raise ConfigError(f"SCHEDULE ADD needs one of {', '.join(INTERVAL_UNITS)} or AT")
    name, factor = units[0] if units else ("EVERY_X_DAYS", 86400)
    count = float(message.get(name) or 1)
    if count <= 0:
        raise ConfigError(f"{name} must be positive, got {count}")
    interval = timedelta(seconds=count * factor)
    first = now + interval
    if at not in (None, ""):
        first = next_at(now, str(at), name)
    flags = str(message.get("FLAGS") or message.get("FLAG") or "").upper()
    return ScheduledJob(tag, job_key, dict(do), first, interval, flags == "ONCE")  # type: ignore[arg-type]


def next_at(now: datetime, at: str, unit: str) -> datetime:
    """Return the first time at ``at``, UTC, not before ``now``.

    ``at`` is ``"HH:MM"`` (daily), ``":MM"`` or ``"MM"`` (hourly); with ``unit``
    ``EVERY_X_HOURS`` it must be a minute of the hour.

    Raises
    ------
    ConfigError
        When ``at`` is neither form.
    """
    text = at.strip()
    try:
        if unit == "EVERY_X_HOURS" or ":" not in text or text.startswith(":"):
            minute = int(text.lstrip(":"))
            candidate = now.replace(minute=minute, second=0, microsecond=0)
            step = timedelta(hours=1)
        else:
            hour, minute = (int(part) for part in text.split(":", 1))
            candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            step = timedelta(days=1)
    except ValueError:
        raise ConfigError(f"AT {at!r} is not 'HH:MM' (daily) or ':MM' (hourly), UTC") from None
    while candidate < now:
        candidate += step
    return candidate
