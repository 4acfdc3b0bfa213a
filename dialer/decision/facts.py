"""The decision's whole input: plain, frozen snapshots with no database behind them.

Every datetime is timezone-aware UTC. Times of day (`time`) are local wall times:
the queue's window in the called party's zone, the program's hours in its own zone.
Days are `date.weekday()` numbers: 0 = Monday .. 6 = Sunday.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from consent.facts import ConsentFact as ConsentFact  # owned by consent; re-exported
from dnc.rnd.facts import RndAnswerFact as RndAnswerFact  # owned by dnc; re-exported

PURPOSES = frozenset({"callback", "reminder", "reactivation"})
SOLICITATION_PURPOSES = frozenset({"reactivation"})
CONSENT_KINDS = frozenset({"tcpa_express", "tcpa_written", "part2", "recording"})
LINE_TYPES = frozenset({"mobile", "landline", "unknown"})
PATIENT_STATUSES = frozenset({"none", "current", "former"})


@dataclass(frozen=True, slots=True)
class ProgramFacts:
    id: int
    state: str
    timezone: str
    business_start: time
    business_end: time
    business_days: frozenset[int]
    active: bool


@dataclass(frozen=True, slots=True)
class QueueFacts:
    id: int
    purpose: str
    window_start: time
    window_end: time
    days: frozenset[int]
    max_attempts: int
    retry_minutes: int
    active: bool
    abandon_rate_exceeded: bool
    # The queue's current script is marked promotional by a manager (reminders refuse).
    script_promotional: bool = False


@dataclass(frozen=True, slots=True)
class ContactFacts:
    state: str | None
    postal_code: str | None
    patient_status: str


@dataclass(frozen=True, slots=True)
class NumberFacts:
    # "+1" and the NPA-NXX: all the decision reads of a number (validity, zones, presumed
    # states), so a planner reads it in the clear and decrypts nothing. A whole E.164
    # number is taken too. None: there is no number (it could not be read or parsed).
    exchange: str | None
    line_type: str
    provided_by_patient: bool


@dataclass(frozen=True, slots=True)
class DncFacts:
    internal: bool
    national: bool
    states: frozenset[str]


@dataclass(frozen=True, slots=True)
class RegistryFacts:
    """As-of dates of the registry snapshots covering this number's area code."""

    national_as_of: date | None
    state_as_of: Mapping[str, date | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttemptFact:
    """A recent attempt to this person (their contact row, or their number in any program)."""

    at: datetime
    purpose: str
    program_id: int
    id: int | None = None  # the attempt's row; None for a call granted earlier in the same batch


@dataclass(frozen=True, slots=True)
class TaskFacts:
    task_id: int | None
    program: ProgramFacts
    queue: QueueFacts
    contact: ContactFacts
    number: NumberFacts
    dnc: DncFacts
    registry: RegistryFacts
    consents: tuple[ConsentFact, ...]
    recent_attempts: tuple[AttemptFact, ...]  # newest first, at most the last 8 days
    attempts_made: int
    last_attempt_at: datetime | None
    callback_requested_at: datetime | None
    appointment_at: datetime | None
    # The Reassigned Numbers Database's answers for this number, one per date asked.
    rnd: tuple[RndAnswerFact, ...] = ()
    # Who is called, for caps within a batch: tasks sharing any key are the same person
    # (the contact row, the number's keyed hash). Empty: counted on its own.
    person_keys: tuple[object, ...] = ()
