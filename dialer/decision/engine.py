"""The call decision: one pure function that composes every rule.

`decide(facts, at)` reads a snapshot and writes nothing. It returns every
blocking reason (not only the first), and `next_allowed_at`: the earliest
instant >= `at` at which every time rule (windows in every zone, caps, retry
spacing) holds together, or None when waiting cannot help. It fails closed:
an exception inside a rule is a blocking reason, never "allowed".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from common.collector import collector_paused
from dialer.decision import checks, clock, frequency, numbering, windows, zones
from dialer.decision.checks import CHECKS_FIRST, CHECKS_LAST, rule_purpose, valid_until
from dialer.decision.facts import AttemptFact, TaskFacts
from dialer.decision.frequency import cap_lifts, cap_reasons, cap_rules, retry_after, retry_reason
from dialer.decision.outcome import FREQUENCY_CAP, OUTSIDE_CALLING_WINDOW, Decision, Reason
from dialer.decision.rules_table import RULES, CapRule
from dialer.decision.windows import WindowProfile, program_rule, queue_rule, window_profile
from dialer.decision.zones import Location, all_us_zones, candidate_location

__all__ = ["Decision", "Reason", "clear_caches", "decide", "decide_batch", "decide_many"]

_MAX_ROUNDS = 64


def _failed(exc: BaseException) -> str:
    # The exception's text may carry input values (a number, a name): never show it.
    return f"this rule could not be evaluated ({type(exc).__name__}); refusing to be safe"


def decide(facts: TaskFacts, at: datetime) -> Decision:
    """Decide one call at the instant `at` (timezone-aware)."""
    return _decide(facts, clock.as_utc(at))


def decide_many(facts: Sequence[TaskFacts], at: datetime) -> list[Decision]:
    """Decide many calls at one instant; they share every cache (zones, windows, holidays).

    The cyclic garbage collector is paused for the batch and restored after:
    deciding creates no reference cycles (reference counting frees everything),
    but each of 100,000 kept decisions would otherwise count toward full
    collections that walk every live object: on a batch of mostly refused
    calls that costs about 40% of the throughput.
    """
    when = clock.as_utc(at)
    with collector_paused():
        batch = _Batch(when)
        return [_decide(f, when, batch) for f in facts]


def decide_batch(facts: Sequence[TaskFacts], at: datetime) -> list[Decision]:
    """Decide a batch of calls that will all be made, counting the batch's own calls to a person.

    `decide_many` decides every task on one snapshot: two tasks of one person
    (two programs' contact rows of one number, or two queues of one contact)
    would each see the caps as they were before the batch and both be allowed.
    1. Find the tasks that share a person key (`TaskFacts.person_keys`) with
       another task of the batch; the others are decided together, as before.
    2. Decide the shared ones in batch order; each allowed one becomes an
       attempt at `at` (AttemptFact with no id) for every later task sharing a
       key with it, added to that task's recent attempts before it is decided.
    """
    keys = [key for f in facts for key in f.person_keys]
    if len(set(keys)) == len(keys):
        return decide_many(facts, at)  # nobody twice: the common case, at full speed
    first: dict[object, int] = {}
    shared: set[int] = set()
    for i, f in enumerate(facts):
        for key in f.person_keys:
            j = first.setdefault(key, i)
            if j != i:
                shared.update((i, j))
    when = clock.as_utc(at)
    batch = _Batch(when)
    granted: dict[object, list[tuple[int, AttemptFact]]] = {}
    out: list[Decision] = []
    with collector_paused():
        for i, f in enumerate(facts):
            if i not in shared:
                out.append(_decide(f, when, batch))
                continue
            earlier = {j: a for key in f.person_keys for j, a in granted.get(key, ())}
            if earlier:
                # Granted at `at`, no earlier than any stored attempt: newest first stays so.
                calls = tuple(earlier[j] for j in sorted(earlier, reverse=True))
                f = dataclasses.replace(f, recent_attempts=calls + f.recent_attempts)
            decision = _decide(f, when, batch)
            out.append(decision)
            if decision.allowed:
                call = AttemptFact(at=when, purpose=f.queue.purpose, program_id=f.program.id)
                for key in f.person_keys:
                    granted.setdefault(key, []).append((i, call))
    return out


def _fallback_location() -> Location:
    return Location(all_us_zones(), tuple(sorted(numbering.STATE_CODES)), False)


@dataclass(frozen=True, slots=True)
class _TimeRules:
    """What the time rules say for one location, queue, program and line type at an instant."""

    keep: tuple[object, ...]  # the objects the key names by id, kept alive with it
    profile: WindowProfile
    blocked: tuple[Reason, ...]
    caps: tuple[CapRule, ...]
    capped: tuple[Reason, ...]  # the caps' reasons for a person with no recent attempt
    allowed: Decision | None  # the decision of a call that nothing else refuses


class _Batch:
    """Answers shared by the calls of one batch at one instant (most share a queue, a
    program and a few locations): the window profile, its verdict at the instant, the
    caps, and the allowed decision itself, each built once per distinct key.

    Keys name the shared fact objects by identity (cheap to hash); each entry keeps
    them alive, so an id is never reused within the batch. A different but equal
    object only misses the memo.
    """

    __slots__ = ("at", "rules")

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.rules: dict[tuple[int, int, int, str], _TimeRules | None] = {}

    def time_rules(self, f: TaskFacts, loc: Location, purpose: str) -> _TimeRules | None:
        """None when a rule raises: the caller then evaluates (and refuses) as it would alone."""
        key = (id(loc), id(f.queue), id(f.program), f.number.line_type)
        try:
            return self.rules[key]
        except KeyError:
            pass
        found: _TimeRules | None
        try:
            profile = _profile_of(f, loc, purpose)
            blocked = tuple(profile.blocked_at(self.at))
            caps = cap_rules(loc.states, purpose, f.number.line_type)
            capped = tuple(cap_reasons(caps, (), purpose, self.at))
            allowed = None
            if not blocked and not capped:
                allowed = Decision(
                    allowed=True,
                    reasons=(),
                    next_allowed_at=self.at,
                    zones=loc.zones,
                    evaluated_at=self.at,
                    rules_version=RULES.version,
                )
            keep = (loc, f.queue, f.program)
            found = _TimeRules(keep, profile, blocked, caps, capped, allowed)
        except Exception:
            found = None
        self.rules[key] = found
        return found


def _profile_of(f: TaskFacts, loc: Location, purpose: str) -> WindowProfile:
    return window_profile(
        loc.zones,
        loc.states,
        purpose,
        queue_rule(f.queue.window_start, f.queue.window_end, f.queue.days),
        f.program.timezone,
        program_rule(f.program.business_start, f.program.business_end, f.program.business_days),
    )


def _decide(f: TaskFacts, at: datetime, batch: _Batch | None = None) -> Decision:
    """Decide one call; `batch` shares what the calls of a batch have in common at `at`."""
    reasons: list[Reason] = []
    lasting = False  # a reason that waiting cannot cure
    try:
        loc = candidate_location(f.number.exchange, f.contact.state, f.contact.postal_code)
    except Exception as exc:
        loc = _fallback_location()
        reasons.append(Reason(OUTSIDE_CALLING_WINDOW, "location: " + _failed(exc)))
        lasting = True

    for code, check in CHECKS_FIRST:
        try:
            found = check(f, at, loc)
        except Exception as exc:
            found = Reason(code, _failed(exc))
        if found is not None:
            reasons.append(found)
            lasting = True

    purpose = rule_purpose(f.queue.purpose)
    # The batch's memo gives the same profile, window verdict and caps as computing them here.
    shared = batch.time_rules(f, loc, purpose) if batch is not None else None
    profile: WindowProfile | None = None
    if shared is not None:
        profile = shared.profile
        reasons.extend(shared.blocked)
    else:
        try:
            profile = _profile_of(f, loc, purpose)
            reasons.extend(profile.blocked_at(at))
        except Exception as exc:
            reasons.append(Reason(OUTSIDE_CALLING_WINDOW, _failed(exc)))
            lasting = True

    caps: tuple[CapRule, ...] = ()
    retry_at: datetime | None = None
    try:
        if shared is not None:
            caps = shared.caps
            attempts = f.recent_attempts
            reasons.extend(cap_reasons(caps, attempts, purpose, at) if attempts else shared.capped)
        else:
            caps = cap_rules(loc.states, purpose, f.number.line_type)
            reasons.extend(cap_reasons(caps, f.recent_attempts, purpose, at))
        retry_at = retry_after(f.last_attempt_at, f.queue.retry_minutes)
        spacing = retry_reason(retry_at, f.queue.retry_minutes, at)
        if spacing is not None:
            reasons.append(spacing)
    except Exception as exc:
        reasons.append(Reason(FREQUENCY_CAP, _failed(exc)))
        lasting = True

    for code, check in CHECKS_LAST:
        try:
            found = check(f, at, loc)
        except Exception as exc:
            found = Reason(code, _failed(exc))
        if found is not None:
            reasons.append(found)
            lasting = True

    if not reasons and shared is not None and shared.allowed is not None:
        return shared.allowed  # allowed now: the batch's one decision for these zones
    next_at: datetime | None
    if lasting or profile is None:
        next_at = None
    elif not reasons:
        next_at = at
    else:
        try:
            next_at = _next_allowed(f, at, loc, profile, caps, purpose, retry_at)
        except Exception:
            next_at = None  # still refused: the reasons above stand
    return Decision(
        allowed=not reasons,
        reasons=tuple(reasons),
        next_allowed_at=next_at,
        zones=loc.zones,
        evaluated_at=at,
        rules_version=RULES.version,
    )


def _next_allowed(
    f: TaskFacts,
    at: datetime,
    loc: Location,
    profile: WindowProfile,
    caps: tuple[CapRule, ...],
    purpose: str,
    retry_at: datetime | None,
) -> datetime | None:
    """The earliest instant >= `at` at which windows, caps and retry spacing all hold.

    1. Start from `at`.
    2. Move to the profile's next opening (every zone window and the program's hours).
    3. Move past the retry spacing and past each cap's expiry.
    4. Repeat from 2 until nothing moves: every time rule holds at that instant.
    5. Give up (None) past the search horizon, or when that instant is not
       before a rule that holds now lapses by itself (a callback request ages
       out, a consent expires, a registry copy grows stale): no later instant
       would be allowed either.
    Every step skips only instants some rule rejects, so the first fixed point
    is the earliest allowed instant. The horizon is the same for every task
    decided at `at`, so the profile's answers are shared across a batch.
    """
    until = windows.horizon(at)
    t = at
    for _ in range(_MAX_ROUNDS):
        moved = profile.next_open(t, until)
        if moved is None:
            return None
        if retry_at is not None and moved < retry_at:
            moved = retry_at
        for cap in caps:
            moved = cap_lifts(cap, f.recent_attempts, purpose, moved)
        if moved > until:
            return None
        if moved == t:
            lapse = valid_until(f, at, loc)
            return t if lapse is None or t < lapse else None
        t = moved
    return None


def clear_caches() -> None:
    """Forget every cached answer (tests; a reloaded rules table)."""
    clock.clear_caches()
    checks.clear_caches()
    numbering.clear_caches()
    zones.clear_caches()
    windows.clear_caches()
    frequency.clear_caches()
