"""Calling windows: when, in UTC, the local-time rules allow a call.

A `DayRule` gives an allowed local span per day (or none: a Sunday ban, a
holiday, a day the queue does not call). A `ZoneWindow` intersects day rules in
one zone and turns each local day into a UTC interval through `clock`, so that
"is `t` inside" and "when is the next opening after `t`" are the same
computation and agree across DST changes, midnight and week ends. A
`WindowProfile` is every `ZoneWindow` that must hold together for one call:
the law's and the queue's rules in every candidate zone, and the program's
business hours in the program's own zone. Profiles are cached, and each caches
its answers per instant, so a bulk decision at one instant costs one
evaluation per distinct profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dialer.decision import clock
from dialer.decision.holiday_dates import holiday_name
from dialer.decision.outcome import OUTSIDE_CALLING_WINDOW, Reason
from dialer.decision.rules_table import ANY_STATE, DAY_NAMES, RULES, HoursRule, Span

_CACHE_LIMIT = 100_000
_PER_PROFILE_LIMIT = 256
_MAX_ROUNDS = 64


def hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def span_text(span: Span) -> str:
    return f"{hhmm(span[0])}-{hhmm(span[1])}"


@dataclass(frozen=True, slots=True, eq=False)
class DayRule:
    """An allowed local span for each weekday, optionally closed on a state's holidays.

    The three texts explain a refusal; `{span}` and `{day}` are filled in:
    `allows` ("Florida allows {span} for solicitation"), `closed` ("Utah bans
    solicitation on {day}s") and `holiday` ("... on legal holidays ({day})").
    """

    week: tuple[Span | None, ...]
    allows: str
    closed: str
    holiday: str = ""
    holidays_of: str | None = None

    def span(self, day: date) -> Span | None:
        if self.holidays_of is not None and holiday_name(self.holidays_of, day) is not None:
            return None
        return self.week[day.weekday()]

    def why(self, day: date) -> str:
        """Why this rule does not allow a call now, on local `day` (for the detail)."""
        if self.holidays_of is not None:
            name = holiday_name(self.holidays_of, day)
            if name is not None:
                return self.holiday.format(day=name)
        span = self.week[day.weekday()]
        if span is None:
            return self.closed.format(day=DAY_NAMES[day.weekday()])
        varies = len(set(self.week)) > 1
        text = span_text(span) + (f" on {DAY_NAMES[day.weekday()]}" if varies else "")
        return self.allows.format(span=text)


_law_rules: dict[int, DayRule] = {}


def law_rule(rule: HoursRule) -> DayRule:
    """The `DayRule` of a table entry (one object per entry, so it hashes by identity)."""
    hit = _law_rules.get(id(rule))
    if hit is None:
        note = " (unconfirmed rule, applied strictly)" if rule.unconfirmed else ""
        what = "solicitation" if rule.purposes == frozenset({"reactivation"}) else "calls"
        scope = " for solicitation" if what == "solicitation" else ""
        hit = DayRule(
            week=rule.week,
            allows=f"{rule.label} allows {{span}}{scope}{note}",
            closed=f"{rule.label} bans {what} on {{day}}s{note}",
            holiday=f"{rule.label} bans {what} on legal holidays ({{day}}){note}",
            holidays_of=rule.state if rule.no_holidays and rule.state != ANY_STATE else None,
        )
        _law_rules[id(rule)] = hit
    return hit


_law_sets: dict[tuple[tuple[str, ...], str], tuple[DayRule, ...]] = {}


def law_rules(states: tuple[str, ...], purpose: str) -> tuple[DayRule, ...]:
    """Every hours entry of the table that applies to a call for `purpose` into `states`."""
    key = (states, purpose)
    hit = _law_sets.get(key)
    if hit is None:
        wanted = set(states)
        hit = tuple(
            law_rule(r)
            for r in RULES.hours
            if purpose in r.purposes and (r.state == ANY_STATE or r.state in wanted)
        )
        _law_sets[key] = hit
    return hit


def _week_of(start: time, end: time, days: Iterable[int]) -> tuple[Span | None, ...]:
    first = clock.seconds_of_day(start)
    last = clock.seconds_of_day(end) or clock.SECONDS_PER_DAY  # an end of 00:00 is midnight
    span: Span | None = (first, last) if first < last else None  # no overnight windows
    open_days = set(days)
    return tuple(span if d in open_days else None for d in range(7))


_queue_rules: dict[tuple[time, time, frozenset[int]], DayRule] = {}
_program_rules: dict[tuple[time, time, frozenset[int]], DayRule] = {}


def queue_rule(start: time, end: time, days: frozenset[int]) -> DayRule:
    key = (start, end, days)
    hit = _queue_rules.get(key)
    if hit is None:
        hit = DayRule(
            week=_week_of(start, end, days),
            allows="the queue's window is {span}",
            closed="the queue does not call on {day}s",
        )
        _queue_rules[key] = hit
    return hit


def program_rule(start: time, end: time, days: frozenset[int]) -> DayRule:
    key = (start, end, days)
    hit = _program_rules.get(key)
    if hit is None:
        hit = DayRule(
            week=_week_of(start, end, days),
            allows="the program's business hours are {span}",
            closed="the program is closed on {day}s",
        )
        _program_rules[key] = hit
    return hit


Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, eq=False)
class ZoneWindow:
    """Day rules that must all hold, in one zone."""

    zone: str
    rules: tuple[DayRule, ...]

    def interval(self, day: date) -> Interval | None:
        """The UTC interval the rules allow on local `day`, or None."""
        key = (self, day)
        if key in _intervals:
            return _intervals[key]
        lo, hi = 0, clock.SECONDS_PER_DAY
        result: Interval | None = None
        for rule in self.rules:
            span = rule.span(day)
            if span is None:
                lo, hi = 1, 0
                break
            lo, hi = max(lo, span[0]), min(hi, span[1])
        if lo < hi:
            start = clock.utc_of(self.zone, day, lo)
            end = clock.utc_of(self.zone, day, hi)
            result = (start, end) if start < end else None
        if len(_intervals) >= _CACHE_LIMIT:
            _intervals.clear()
        _intervals[key] = result
        return result

    def next_ok(self, t: datetime, until: datetime) -> datetime | None:
        """The earliest instant >= `t` and <= `until` inside this window, or None."""
        days = (until.date() - t.date()).days + 4
        for day in clock.local_days(self.zone, t, days, back=1):
            found = self.interval(day)
            if found is None:
                continue
            start, end = found
            if start > until:
                return None
            if end > t:
                return start if start > t else t
        return None

    def why(self, t: datetime) -> str:
        """ "20:31 in America/New_York; Florida allows 08:00-20:00 for solicitation"."""
        here = clock.local(t, self.zone)
        day = here.date()
        blocking = []
        for rule in self.rules:
            span = rule.span(day)
            if span is None:
                blocking.append(rule.why(day))
                continue
            start = clock.utc_of(self.zone, day, span[0])
            end = clock.utc_of(self.zone, day, span[1])
            if not start <= t < end:
                blocking.append(rule.why(day))
        if not blocking:  # each allows alone, but not together (cannot happen with spans)
            blocking.append("the rules' windows do not overlap")
        return f"{here:%H:%M} in {self.zone}; " + "; ".join(blocking)


_intervals: dict[tuple[ZoneWindow, date], Interval | None] = {}


@dataclass(frozen=True, slots=True, eq=False)
class WindowProfile:
    windows: tuple[ZoneWindow, ...]
    _blocked: dict[datetime, tuple[Reason, ...]]
    _next: dict[tuple[datetime, datetime], datetime | None]

    def blocked_at(self, t: datetime) -> tuple[Reason, ...]:
        """One reason per zone window that `t` is outside of; empty when inside all."""
        hit = self._blocked.get(t)
        if hit is None:
            hit = tuple(
                Reason(OUTSIDE_CALLING_WINDOW, w.why(t))
                for w in self.windows
                if w.next_ok(t, t) != t
            )
            if len(self._blocked) >= _PER_PROFILE_LIMIT:
                self._blocked.clear()
            self._blocked[t] = hit
        return hit

    def next_open(self, t: datetime, until: datetime) -> datetime | None:
        """The earliest instant in [t, until] inside every zone window, or None.

        1. Ask each window for its earliest opening at or after the candidate.
        2. The latest of those answers is the new candidate.
        3. Repeat until no window moves it (a fixed point: every window holds)
           or a window has no opening before `until`.
        Each step only skips instants some window rejects, so the fixed point
        is the earliest instant where all hold.
        """
        key = (t, until)
        if key in self._next:
            return self._next[key]
        result = self._search(t, until)
        if len(self._next) >= _PER_PROFILE_LIMIT:
            self._next.clear()
        self._next[key] = result
        return result

    def _search(self, t: datetime, until: datetime) -> datetime | None:
        candidate = t
        for _ in range(_MAX_ROUNDS):
            moved = candidate
            for window in self.windows:
                found = window.next_ok(moved, until)
                if found is None:
                    return None
                moved = max(moved, found)
            if moved == candidate:
                return candidate
            candidate = moved
        return None  # no fixed point within the rounds: fail closed


_zone_windows: dict[tuple[str, tuple[DayRule, ...]], ZoneWindow] = {}
_profiles: dict[tuple[object, ...], WindowProfile] = {}


def _zone_window(zone: str, rules: tuple[DayRule, ...]) -> ZoneWindow:
    key = (zone, rules)
    hit = _zone_windows.get(key)
    if hit is None:
        hit = ZoneWindow(zone, rules)
        _zone_windows[key] = hit
    return hit


def window_profile(
    zones: tuple[str, ...],
    states: tuple[str, ...],
    purpose: str,
    queue: DayRule,
    program_zone: str,
    program: DayRule,
) -> WindowProfile:
    """The windows a call must be inside: law and queue in each zone, program hours at home."""
    law = law_rules(states, purpose)  # callbacks and reminders share one set: states drop out
    key = (zones, law, queue, program_zone, program)
    hit = _profiles.get(key)
    if hit is None:
        rules = (*law, queue)
        windows = [_zone_window(zone, rules) for zone in zones]
        windows.append(_zone_window(program_zone, (program,)))
        hit = WindowProfile(tuple(windows), {}, {})
        if len(_profiles) >= _CACHE_LIMIT:
            _profiles.clear()
        _profiles[key] = hit
    return hit


def horizon(at: datetime) -> datetime:
    return at + timedelta(days=RULES.horizon_days)


def clear_caches() -> None:
    _intervals.clear()
    _profiles.clear()
    _zone_windows.clear()
