"""The rules that waiting does not cure: number, DNC, consent, Part 2, registry, queue.

Each rule is one small function `(facts, at, location) -> Reason | None`, where
None means the rule does not block. None of them writes anything, and none of
them puts a phone number or a name into a detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta

from consent.coverage import (
    PATIENT_FREE,
    ConsentCoverage,
    consent_coverage,
    part2_consents,
    tcpa_consents,
)
from dialer.decision import outcome as codes
from dialer.decision.facts import (
    PURPOSES,
    SOLICITATION_PURPOSES,
    ConsentFact,
    RndAnswerFact,
    TaskFacts,
)
from dialer.decision.numbering import exchange_of
from dialer.decision.outcome import Reason
from dialer.decision.rules_table import RULES, ConditionRule
from dialer.decision.zones import Location
from dnc.rnd.facts import consent_date_of

Check = Callable[[TaskFacts, datetime, Location], "Reason | None"]


def is_solicitation(purpose: str) -> bool:
    """Reactivation is telemarketing; an unknown purpose is treated as one (fail closed)."""
    return purpose in SOLICITATION_PURPOSES or purpose not in PURPOSES


def rule_purpose(purpose: str) -> str:
    """The purpose the rules table is read for: unknown purposes read as solicitation."""
    return purpose if purpose in PURPOSES else "reactivation"


def _tcpa(f: TaskFacts, purpose: str) -> Iterable[ConsentFact]:
    return tcpa_consents(f.consents, purpose)


def _written_for_number(f: TaskFacts, at: datetime) -> bool:
    """An active prior express written consent naming this number (the DNC exemption)."""
    return any(c.kind == "tcpa_written" and c.covers_number and c.active_at(at) for c in f.consents)


def _part2(f: TaskFacts, purpose: str) -> Iterable[ConsentFact]:
    return part2_consents(f.consents, f.program.id, purpose)


# Three checks read one task's coverage in a row: the last answer is kept for the next two.
_last_coverage: tuple[TaskFacts, datetime, ConsentCoverage] | None = None
# Without consents the answer depends on the patient status, program and purpose alone
# (nothing is active, revoked or expiring), so most of a batch shares a handful.
_no_consent_coverage: dict[tuple[str, int, str], ConsentCoverage] = {}


def _coverage(f: TaskFacts, at: datetime) -> ConsentCoverage:
    """The consent rules, as the admin's "what it allows" applies them (consent.coverage)."""
    global _last_coverage
    last = _last_coverage
    if last is not None and last[0] is f and last[1] == at:
        return last[2]
    key = (f.contact.patient_status, f.program.id, f.queue.purpose)
    found = _no_consent_coverage.get(key) if not f.consents else None
    if found is None:
        found = consent_coverage(
            consents=f.consents,
            patient_status=f.contact.patient_status,
            program_id=f.program.id,
            purpose=f.queue.purpose,
            at=at,
            callback_requested_at=f.callback_requested_at,
        )
        if not f.consents:
            if len(_no_consent_coverage) >= 10_000:
                _no_consent_coverage.clear()
            _no_consent_coverage[key] = found
    _last_coverage = (f, at, found)
    return found


def clear_caches() -> None:
    global _last_coverage
    _last_coverage = None
    _no_consent_coverage.clear()


def _reason(coverage: ConsentCoverage, code: str) -> Reason | None:
    blocker = coverage.blocker(code)
    return None if blocker is None else Reason(code, blocker.detail)


def _end(c: ConsentFact) -> datetime | None:
    """When an active consent stops being active (None: not scheduled to)."""
    ends = [d for d in (c.expires_at, c.revoked_at) if d is not None]
    return min(ends) if ends else None


def check_number(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.number.exchange is None:
        return Reason(codes.INVALID_NUMBER, "the number on file could not be parsed")
    exchange = exchange_of(f.number.exchange)
    if not exchange.valid:
        return Reason(codes.INVALID_NUMBER, exchange.why_invalid)
    return None


def _cite(rule: ConditionRule) -> str:
    """The source of a condition, short: the citation up to its explanation."""
    return f"{rule.label}, {rule.citation.split(':')[0]}"


def _conditions(f: TaskFacts, requires: str) -> list[ConditionRule]:
    return [
        c
        for c in RULES.conditions_for(rule_purpose(f.queue.purpose), f.number.line_type)
        if c.requires == requires
    ]


def check_internal_dnc(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.dnc.internal:
        detail = "on the internal do-not-call list (every purpose)"
        for rule in _conditions(f, "opt_out_honoured_at_once"):
            detail += f"; the opt-out takes effect at once ({_cite(rule)})"
        return Reason(codes.INTERNAL_DNC, detail)
    return None


def check_consent_revoked(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    """A consent this call needs was revoked, and nothing active replaces it."""
    return _reason(_coverage(f, at), codes.CONSENT_REVOKED)


def check_part2(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    """42 CFR Part 2: a current or former patient needs a Part 2 consent naming this program."""
    return _reason(_coverage(f, at), codes.PART2_CONSENT_MISSING)


def check_consent_basis(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    """The queue's consent basis: a recent request, an appointment, or written consent."""
    purpose = f.queue.purpose
    problems: list[str] = []
    if purpose == "callback":
        requested = f.callback_requested_at
        days = RULES.callback_validity.days
        if requested is None:
            problems.append("no callback request on file")
        elif at >= requested + RULES.callback_validity:
            problems.append(f"the callback request is older than {days} days")
    elif purpose == "reminder":
        if f.appointment_at is None:
            problems.append("no appointment on file")
        elif f.appointment_at <= at:
            problems.append("the appointment has passed")
        for rule in _conditions(f, "number_provided_by_patient"):
            if not f.number.provided_by_patient:
                problems.append(f"the number was not provided by the patient ({_cite(rule)})")
        for rule in _conditions(f, "script_not_promotional"):
            if f.queue.script_promotional:
                problems.append(f"the queue's script is marked promotional ({_cite(rule)})")
    missing = _coverage(f, at).blocker(codes.CONSENT_MISSING)  # reactivation, unknown purpose
    if missing is not None:
        problems.append(missing.detail)
    return Reason(codes.CONSENT_MISSING, "; ".join(problems)) if problems else None


def _rnd_answer(f: TaskFacts, c: ConsentFact) -> RndAnswerFact | None:
    asked = consent_date_of(c.signed_at)
    return next((a for a in f.rnd if a.consent_date == asked), None)


def _rnd_clear_until(f: TaskFacts, c: ConsentFact) -> datetime:
    """The last instant this consent may carry the call as far as reassignment goes.

    Within the minimum aging after the consent the number cannot have changed
    hands. After it: `yes` never clears; for reactivation only a `no` clears,
    for 31 days after it was asked (the safe harbor of 47 CFR 64.1200(m));
    for the other purposes anything but `yes` does.
    """
    aging_ends = c.signed_at + RULES.rnd_min_aging
    answer = _rnd_answer(f, c)
    if answer is None:
        cleared = None if is_solicitation(f.queue.purpose) else _NEVER
    elif answer.result == "yes":
        cleared = None
    elif is_solicitation(f.queue.purpose):
        cleared = answer.queried_at + RULES.rnd_max_age if answer.result == "no" else None
    else:
        cleared = _NEVER
    return max(aging_ends, cleared) if cleared is not None else aging_ends


def _rnd_relied(f: TaskFacts, at: datetime) -> list[ConsentFact] | None:
    """The consents this call relies on for the RND rule; None when it needs no answer.

    A callback the person asked for recently relies on that request.
    """
    purpose = f.queue.purpose
    requested = f.callback_requested_at
    if (
        purpose == "callback"
        and requested is not None
        and at - requested <= RULES.rnd_callback_exempt
    ):
        return None
    return [c for c in _tcpa(f, purpose) if c.active_at(at)]


def check_reassigned(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    """RULES.md 3a: a consent over 45 days old needs the RND's answer for its date.

    The call goes ahead when at least one consent it relies on is clear (given
    within 45 days, or answered as `_rnd_clear_until` requires); a basis with
    no consent at all is the consent rule's matter, not this one's.
    """
    relied = _rnd_relied(f, at)
    if not relied:
        return None
    if any(at <= _rnd_clear_until(f, c) for c in relied):
        return None
    problems = []
    for c in relied:
        asked = consent_date_of(c.signed_at)
        answer = _rnd_answer(f, c)
        if answer is None:
            problems.append(f"no RND answer on file for the consent of {asked}")
        elif answer.result == "yes":
            problems.append(f"the RND reports the number disconnected since {asked}")
        elif answer.result == "no_data":
            problems.append(f"the RND has no data for {asked} (no safe harbor)")
        else:
            age = (at - answer.queried_at).days
            problems.append(
                f"the RND answer for {asked} is {age} days old (at most {RULES.rnd_max_age.days})"
            )
    return Reason(codes.NUMBER_REASSIGNED, "; ".join(problems))


def check_national_dnc(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.dnc.national and is_solicitation(f.queue.purpose) and not _written_for_number(f, at):
        return Reason(
            codes.NATIONAL_DNC,
            "on the national do-not-call registry; no written consent names this number",
        )
    return None


def check_state_dnc(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.dnc.states and is_solicitation(f.queue.purpose) and not _written_for_number(f, at):
        listed = ", ".join(sorted(f.dnc.states))
        return Reason(
            codes.STATE_DNC,
            f"on the state do-not-call registry of {listed}; no written consent names this number",
        )
    return None


def _stale(as_of: date | None, at: datetime) -> int | None:
    """None when fresh; else the copy's age in days (-1 when there is no copy)."""
    if as_of is None:
        return -1
    age = (at.astimezone(UTC).date() - as_of).days
    return age if age > RULES.registry_max_age_days else None


def registry_states(loc: Location) -> list[str]:
    """The candidate states that keep a do-not-call registry of their own."""
    return [s for s in loc.states if s in RULES.state_registries]


def check_registry(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    """Solicitation needs the national copy and each candidate state's copy, at most 31 days old."""
    if not is_solicitation(f.queue.purpose):
        return None
    limit = RULES.registry_max_age_days
    problems = []
    sources = [("national", f.registry.national_as_of)]
    sources += [(s, f.registry.state_as_of.get(s)) for s in registry_states(loc)]
    for name, as_of in sources:
        age = _stale(as_of, at)
        if age == -1:
            problems.append(f"no {name} registry copy")
        elif age is not None:
            problems.append(f"{name} registry copy is {age} days old (at most {limit})")
    return Reason(codes.REGISTRY_STALE, "; ".join(problems)) if problems else None


def check_max_attempts(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.attempts_made >= f.queue.max_attempts:
        return Reason(
            codes.MAX_ATTEMPTS_REACHED,
            f"{f.attempts_made} of {f.queue.max_attempts} attempts used",
        )
    return None


def check_active(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    problems = []
    if not f.queue.active:
        problems.append("the queue is paused")
    if not f.program.active:
        problems.append("the program is inactive")
    return Reason(codes.QUEUE_INACTIVE, "; ".join(problems)) if problems else None


def check_abandonment(f: TaskFacts, at: datetime, loc: Location) -> Reason | None:
    if f.queue.abandon_rate_exceeded:
        return Reason(
            codes.ABANDON_RATE_EXCEEDED,
            "the campaign's abandonment rate is over 3% in 30 days (47 CFR 64.1200(a)(7))",
        )
    return None


# Before the time rules, in the order of DESIGN.md's list.
CHECKS_FIRST: tuple[tuple[str, Check], ...] = (
    (codes.INVALID_NUMBER, check_number),
    (codes.INTERNAL_DNC, check_internal_dnc),
    (codes.CONSENT_REVOKED, check_consent_revoked),
    (codes.PART2_CONSENT_MISSING, check_part2),
    (codes.CONSENT_MISSING, check_consent_basis),
    (codes.NUMBER_REASSIGNED, check_reassigned),
    (codes.NATIONAL_DNC, check_national_dnc),
    (codes.STATE_DNC, check_state_dnc),
    (codes.REGISTRY_STALE, check_registry),
)
# After the time rules.
CHECKS_LAST: tuple[tuple[str, Check], ...] = (
    (codes.MAX_ATTEMPTS_REACHED, check_max_attempts),
    (codes.QUEUE_INACTIVE, check_active),
    (codes.ABANDON_RATE_EXCEEDED, check_abandonment),
)


def valid_until(f: TaskFacts, at: datetime, loc: Location) -> datetime | None:
    """The instant at which a rule above that holds at `at` stops holding by itself.

    A callback request ages out, an appointment passes, a consent expires, a
    registry copy grows stale. A call that must wait for a window or a cap is
    only allowed later if it is still allowed then, so `next_allowed_at` must
    come before this instant. None: nothing here lapses.
    """
    ends: list[datetime] = []
    purpose = f.queue.purpose
    if purpose == "callback" and f.callback_requested_at is not None:
        ends.append(f.callback_requested_at + RULES.callback_validity)
    if purpose == "reminder" and f.appointment_at is not None:
        ends.append(f.appointment_at)
    if purpose == "reactivation":
        ends.append(_latest_end(c for c in _tcpa(f, purpose) if c.active_at(at)))
    if f.contact.patient_status != PATIENT_FREE:
        ends.append(_latest_end(c for c in _part2(f, purpose) if c.active_at(at)))
    if (f.dnc.national or f.dnc.states) and is_solicitation(purpose):
        ends.append(
            _latest_end(
                c
                for c in f.consents
                if c.kind == "tcpa_written" and c.covers_number and c.active_at(at)
            )
        )
    relied = _rnd_relied(f, at)
    if relied:
        clear = [u for c in relied if at <= (u := _rnd_clear_until(f, c))]
        ends.append(max(clear, default=_NEVER))
    if is_solicitation(purpose):
        copies = [f.registry.national_as_of]
        copies += [f.registry.state_as_of.get(s) for s in registry_states(loc)]
        for as_of in copies:
            if as_of is not None:
                stale_on = as_of + timedelta(days=RULES.registry_max_age_days + 1)
                ends.append(datetime.combine(stale_on, time(), tzinfo=UTC))
    return min((e for e in ends if e != _NEVER), default=None)


_NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _latest_end(consents: Iterable[ConsentFact]) -> datetime:
    """The last instant any of these active consents stays active (_NEVER if open-ended)."""
    latest: datetime | None = None
    for c in consents:
        end = _end(c)
        if end is None:
            return _NEVER
        latest = end if latest is None or end > latest else latest
    return _NEVER if latest is None else latest
