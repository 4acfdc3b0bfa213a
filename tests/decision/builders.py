"""Facts for decision tests: a call that every rule allows, changed one field at a time.

Numbers are in the 555-01XX range the numbering plan keeps for fiction, so no
test ever names a real line.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dialer.decision import (
    AttemptFact,
    ConsentFact,
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    RndAnswerFact,
    TaskFacts,
)

EVERY_DAY = frozenset(range(7))
ALL_DAY = (time(0), time(0))  # 00:00-00:00: the whole day, so the window adds nothing
PROGRAM_ID = 7
SIGNED = datetime(2025, 1, 1, tzinfo=UTC)  # the default consent's date
STATE_REGISTRIES = ("CO", "FL", "IN", "LA", "MA", "MO", "MS", "OK", "PA", "TN", "TX", "WY")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def number(area_code: str, line: str = "0123") -> str:
    """A fictional number of `area_code` (555-01XX)."""
    return f"+1{area_code}555{line}"


def written(*purposes: str, **kw: Any) -> ConsentFact:
    return consent("tcpa_written", *purposes, **kw)


def consent(kind: str, *purposes: str, **kw: Any) -> ConsentFact:
    fields: dict[str, Any] = {
        "id": 1,
        "kind": kind,
        "covers_number": kind != "part2",
        "purposes": frozenset(purposes or ("callback", "reminder", "reactivation")),
        "signed_at": SIGNED,
        "expires_at": None,
        "revoked_at": None,
        "recipient_program_ids": frozenset({PROGRAM_ID}) if kind == "part2" else frozenset(),
    }
    fields.update(kw)
    return ConsentFact(**fields)


def rnd_answer(asked: date, result: str, queried_at: datetime) -> RndAnswerFact:
    return RndAnswerFact(consent_date=asked, result=result, queried_at=queried_at)


def attempts(*ats: datetime, purpose: str = "reactivation") -> tuple[AttemptFact, ...]:
    ordered = sorted(ats, reverse=True)
    return tuple(AttemptFact(a, purpose, PROGRAM_ID) for a in ordered)


def task(
    at: datetime,
    *,
    purpose: str = "callback",
    e164: str | None = None,
    state: str | None = "NY",
    postal_code: str | None = None,
    patient_status: str = "none",
    line_type: str = "landline",
    window: tuple[time, time] = ALL_DAY,
    days: frozenset[int] = EVERY_DAY,
    program_zone: str = "America/New_York",
    business: tuple[time, time] = ALL_DAY,
    business_days: frozenset[int] = EVERY_DAY,
    **overrides: Any,
) -> TaskFacts:
    """A task that every non-time rule allows at `at` unless a keyword says otherwise."""
    fresh = (at - timedelta(days=3)).date()
    facts = TaskFacts(
        task_id=1,
        program=ProgramFacts(
            PROGRAM_ID, "NY", program_zone, business[0], business[1], business_days, True
        ),
        queue=QueueFacts(3, purpose, window[0], window[1], days, 5, 0, True, False),
        contact=ContactFacts(state, postal_code, patient_status),
        number=NumberFacts(e164 or number("212"), line_type, True),
        dnc=DncFacts(False, False, frozenset()),
        registry=RegistryFacts(fresh, dict.fromkeys(STATE_REGISTRIES, fresh)),
        consents=(written("reactivation"),) if purpose == "reactivation" else (),
        recent_attempts=(),
        attempts_made=0,
        last_attempt_at=None,
        callback_requested_at=at - timedelta(hours=1) if purpose == "callback" else None,
        appointment_at=at + timedelta(days=1) if purpose == "reminder" else None,
        # A fresh "no" from the RND for the default consent's date: the number has
        # not changed hands since (RULES.md 3a).
        rnd=(rnd_answer(SIGNED.date(), "no", at - timedelta(days=2)),),
    )
    return replace(facts, **overrides) if overrides else facts


def with_queue(facts: TaskFacts, **kw: Any) -> TaskFacts:
    return replace(facts, queue=replace(facts.queue, **kw))


def with_program(facts: TaskFacts, **kw: Any) -> TaskFacts:
    return replace(facts, program=replace(facts.program, **kw))


def with_registry(national: date | None, **states: date | None) -> RegistryFacts:
    return RegistryFacts(national, states)
