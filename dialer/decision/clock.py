"""Civil time: the only module that turns instants into wall times and back.

IANA zones through pytz (its bundled database keeps the rules independent of
the host's tzdata). Wall times are made aware with `localize`, never with
`replace(tzinfo=...)`. Results are cached: a bulk decision asks the same few
questions hundreds of thousands of times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytz
from pytz.tzinfo import BaseTzInfo

SECONDS_PER_DAY = 86_400
_CACHE_LIMIT = 200_000

_zones: dict[str, BaseTzInfo] = {}
_local: dict[tuple[str, datetime], datetime] = {}
_utc_of: dict[tuple[str, date, int], datetime] = {}


def zone(name: str) -> BaseTzInfo:
    """The pytz zone for an IANA name (cached); raises `pytz.UnknownTimeZoneError`."""
    tz = _zones.get(name)
    if tz is None:
        tz = pytz.timezone(name)
        _zones[name] = tz
    return tz


def as_utc(at: datetime) -> datetime:
    """`at` as an aware UTC datetime; a naive datetime is a programming error."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: instants must be timezone-aware")
    return at.astimezone(UTC)


def local(at: datetime, zone_name: str) -> datetime:
    """The aware local datetime of the UTC instant `at` in `zone_name`."""
    key = (zone_name, at)
    hit = _local.get(key)
    if hit is None:
        tz = zone(zone_name)
        hit = tz.normalize(at.astimezone(tz))
        if len(_local) >= _CACHE_LIMIT:
            _local.clear()
        _local[key] = hit
    return hit


def utc_of(zone_name: str, day: date, seconds: int) -> datetime:
    """The UTC instant of the local wall time `day` + `seconds` (0..86400) in `zone_name`.

    1. A wall time that exists once maps to its instant.
    2. A wall time in the spring-forward gap does not exist: it maps to the
       first valid instant after it (the transition), so a window starting in
       the gap opens when the clocks jump and a window ending in it closes then.
    3. A wall time that occurs twice (the autumn repeat) maps to its first
       occurrence.
    `seconds` = 86400 is the midnight that ends `day`.
    """
    key = (zone_name, day, seconds)
    hit = _utc_of.get(key)
    if hit is not None:
        return hit
    naive = datetime.combine(day, time()) + timedelta(seconds=seconds)
    tz = zone(zone_name)
    try:
        result = tz.localize(naive, is_dst=None).astimezone(UTC)
    except pytz.AmbiguousTimeError:
        result = min(
            tz.localize(naive, is_dst=True).astimezone(UTC),
            tz.localize(naive, is_dst=False).astimezone(UTC),
        )
    except pytz.NonExistentTimeError:
        result = _gap_end(tz, naive)
    if len(_utc_of) >= _CACHE_LIMIT:
        _utc_of.clear()
    _utc_of[key] = result
    return result


def _gap_end(tz: BaseTzInfo, naive: datetime) -> datetime:
    """The transition instant that skips over the non-existent wall time `naive`.

    Reading `naive` with each of the two offsets gives one instant before the
    transition (its wall time is earlier than `naive`) and one after it (later);
    bisect, to the second, for the first instant whose wall time is past `naive`.
    """
    a = tz.localize(naive, is_dst=True).astimezone(UTC)
    b = tz.localize(naive, is_dst=False).astimezone(UTC)
    lo, hi = (a, b) if a < b else (b, a)
    lo_s, hi_s = 0, int((hi - lo).total_seconds())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        loc = tz.normalize((lo + timedelta(seconds=mid)).astimezone(tz))
        if datetime.combine(loc.date(), loc.time()) > naive:
            hi_s = mid
        else:
            lo_s = mid + 1
    return lo + timedelta(seconds=lo_s)


def local_days(zone_name: str, start: datetime, count: int, *, back: int = 0) -> Iterator[date]:
    """`count` consecutive local dates in `zone_name`, from `back` days before `start`'s date."""
    first = local(start, zone_name).date() - timedelta(days=back)
    for i in range(count):
        yield first + timedelta(days=i)


def seconds_of_day(t: time) -> int:
    """A wall time as seconds since local midnight (sub-second parts are dropped)."""
    return t.hour * 3600 + t.minute * 60 + t.second


def clear_caches() -> None:
    _local.clear()
    _utc_of.clear()
