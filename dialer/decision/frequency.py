"""Frequency: per-person caps over rolling windows, and the queue's retry spacing.

A cap of `limit` attempts per rolling `window` counts the person's attempts
for the same purpose (any program, any of their numbers: "from any number, on
the same subject") in (t - window, t]. It is reached when that count is at
least `limit`, and lifts when the `limit`-th newest of them leaves the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dialer.decision.facts import AttemptFact
from dialer.decision.outcome import FREQUENCY_CAP, Reason, iso_z
from dialer.decision.rules_table import ANY_STATE, RULES, CapRule

_cap_sets: dict[tuple[tuple[str, ...], str, str], tuple[CapRule, ...]] = {}


def cap_rules(states: tuple[str, ...], purpose: str, line_type: str) -> tuple[CapRule, ...]:
    """The caps of the table that apply to a call for `purpose` into `states` on `line_type`."""
    key = (states, purpose, line_type)
    hit = _cap_sets.get(key)
    if hit is None:
        wanted = set(states)
        hit = tuple(
            c
            for c in RULES.caps
            if purpose in c.purposes
            and line_type in c.line_types
            and (c.state == ANY_STATE or c.state in wanted)
        )
        _cap_sets[key] = hit
    return hit


def _in_window(
    attempts: tuple[AttemptFact, ...], purpose: str, window: timedelta, t: datetime
) -> list[datetime]:
    since = t - window
    return [a.at for a in attempts if a.purpose == purpose and a.at > since]


def cap_reasons(
    caps: tuple[CapRule, ...], attempts: tuple[AttemptFact, ...], purpose: str, t: datetime
) -> list[Reason]:
    reasons = []
    for cap in caps:
        count = len(_in_window(attempts, purpose, cap.window, t))
        if count >= cap.limit:
            hours = int(cap.window.total_seconds() // 3600)
            note = " (unconfirmed rule, applied strictly)" if cap.unconfirmed else ""
            reasons.append(
                Reason(
                    FREQUENCY_CAP,
                    f"{count} {purpose} attempts to this person in the last {hours} h; "
                    f"{cap.label} allows {cap.limit}{note}",
                )
            )
    return reasons


def cap_lifts(
    cap: CapRule, attempts: tuple[AttemptFact, ...], purpose: str, t: datetime
) -> datetime:
    """The earliest instant >= `t` at which `cap` is not reached (no new attempts assumed)."""
    times = sorted(_in_window(attempts, purpose, cap.window, t), reverse=True)
    if len(times) < cap.limit:
        return t
    return max(t, times[cap.limit - 1] + cap.window)


def retry_after(last_attempt_at: datetime | None, retry_minutes: int) -> datetime | None:
    """When the queue's retry spacing allows the next attempt (None: no spacing applies)."""
    if last_attempt_at is None or retry_minutes <= 0:
        return None
    return last_attempt_at + timedelta(minutes=retry_minutes)


def retry_reason(retry_at: datetime | None, retry_minutes: int, t: datetime) -> Reason | None:
    if retry_at is None or t >= retry_at:
        return None
    return Reason(
        FREQUENCY_CAP,
        f"retry spacing: {retry_minutes} min after the last attempt, not before {iso_z(retry_at)}",
    )


def clear_caches() -> None:
    _cap_sets.clear()
