"""Legal holidays per state and year, from the `holidays` package (federal ones included).

`holidays.US(subdiv=XX)`, reached through its typed `country_holidays` entry point.
"""

from __future__ import annotations

from datetime import date

import holidays

_calendars: dict[tuple[str, int], dict[date, str]] = {}


def holiday_name(state: str, day: date) -> str | None:
    """The name of the legal holiday of `state` on `day` (federal or state), else None."""
    key = (state, day.year)
    calendar = _calendars.get(key)
    if calendar is None:
        calendar = {
            d: str(name)
            for d, name in holidays.country_holidays("US", subdiv=state, years=day.year).items()
        }
        _calendars[key] = calendar
    return calendar.get(day)
