"""Reading the facts the decision needs, in bulk: a few queries for any number of tasks.

1. task rows with their contact and phone (one query, joined, values only), and
   each queue and program once;
2. DNC status and registry as-of dates for every number (dnc selectors, set-based);
3. consents of every contact (consent selector, one query);
4. recent attempts to every person: their contact rows and, across the whole
   portfolio, their numbers' keyed hashes (one query);
5. the RND answers on file for every number (one query);
The decision itself (dialer.decision) is pure and runs over the result.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaigns.models import Program, Purpose, Queue
from common.crypto import keyed_hash
from common.phones import try_e164
from common.together import Statement, fetch_together
from consent.selectors import consent_facts_from, consent_rows_statement
from dialer.decision.facts import (
    AttemptFact,
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    TaskFacts,
)
from dialer.models import CallAttempt, Outcome
from dialer.rows import TaskRow
from dnc.rnd.selectors import rnd_answers_from, rnd_answers_statement
from dnc.selectors import (
    DncStatus,
    RegistryAsOf,
    dnc_one_answer,
    dnc_one_statement,
    dnc_status_many,
    registry_as_of_many,
)

ABANDONMENT_PAUSE = "abandon_rate_exceeded"
RECENT_ATTEMPTS = timedelta(days=8)  # the longest cap window (7 days) plus a margin


def program_facts(program: Program) -> ProgramFacts:
    return ProgramFacts(
        id=program.pk,
        state=program.state,
        timezone=program.timezone,
        business_start=program.business_start,
        business_end=program.business_end,
        business_days=frozenset(program.business_days or range(7)),
        active=program.active,
    )


def queue_facts(queue: Queue) -> QueueFacts:
    return QueueFacts(
        id=queue.pk,
        purpose=queue.purpose,
        window_start=queue.window_start,
        window_end=queue.window_end,
        days=frozenset(queue.days or range(7)),
        max_attempts=queue.max_attempts,
        retry_minutes=queue.retry_minutes,
        active=queue.active and queue.paused_reason in ("", ABANDONMENT_PAUSE),
        abandon_rate_exceeded=queue.paused_reason == ABANDONMENT_PAUSE,
        # Read only where a rule needs it, so other queues cost no query for it.
        script_promotional=(
            queue.purpose == Purpose.REMINDER
            and queue.current_script_id is not None
            and queue.current_script is not None
            and queue.current_script.promotional
        ),
    )


# Driven from the contacts and the numbers (their tasks by index, then those tasks'
# attempts by index), so that the cost follows the batch, not the size of the task
# table: with them as a filter instead, PostgreSQL may scan every task for each batch.
# A number is counted across the whole portfolio (another program's contact row of
# the same person); UNION counts an attempt found both ways once.
_RECENT_ATTEMPTS_SQL = """
WITH hit AS (
    SELECT a.id
      FROM unnest(%(contacts)s::bigint[]) AS c(id)
      JOIN dialer_calltask t ON t.contact_id = c.id
      JOIN dialer_callattempt a ON a.task_id = t.id
     WHERE a.started_at >= %(since)s AND a.outcome <> 'withdrawn'
    UNION
    SELECT a.id
      FROM unnest(string_to_array(%(hashes)s, ',')) AS h(v)
      JOIN dialer_calltask t ON t.number_hash = h.v
      JOIN dialer_callattempt a ON a.task_id = t.id
     WHERE a.started_at >= %(since)s AND a.outcome <> 'withdrawn'
)
SELECT a.id, t.contact_id, t.number_hash, a.started_at, q.purpose, q.program_id
  FROM hit
  JOIN dialer_callattempt a ON a.id = hit.id
  JOIN dialer_calltask t ON t.id = a.task_id
  JOIN campaigns_queue q ON q.id = t.queue_id
 ORDER BY a.started_at DESC, a.id DESC
"""


def recent_attempts_statement(
    *, contact_ids: Iterable[int], number_hashes: Iterable[str], at: datetime
) -> Statement:
    """Attempts to these contacts or these numbers in the last 8 days, newest first (array
    parameters: an IN list of 100,000 parameters costs more than the query; the hex
    hashes travel as one comma-joined text, which costs a quarter of an array of texts)."""
    return Statement(
        _RECENT_ATTEMPTS_SQL,
        {
            "contacts": list(set(contact_ids)),
            "hashes": ",".join({h for h in number_hashes if h}),
            "since": at - RECENT_ATTEMPTS,
        },
    )


@dataclass(frozen=True, slots=True)
class RecentAttempts:
    """Recent attempts found per contact row and per number hash, each newest first."""

    by_contact: Mapping[int, tuple[AttemptFact, ...]]
    by_number: Mapping[str, tuple[AttemptFact, ...]]

    def of(self, contact_id: int | None, number_hash: str) -> tuple[AttemptFact, ...]:
        """The person's attempts: to this contact row or to this number, each once."""
        mine = self.by_contact.get(contact_id, ()) if contact_id is not None else ()
        theirs = self.by_number.get(number_hash, ()) if number_hash else ()
        if not theirs or mine == theirs:
            return mine
        if not mine:
            return theirs
        seen = {a.id for a in mine}
        both = mine + tuple(a for a in theirs if a.id not in seen)
        return tuple(sorted(both, key=lambda a: a.at, reverse=True))


def recent_attempts_from(rows: Iterable[tuple[Any, ...]]) -> RecentAttempts:
    by_contact: dict[int, list[AttemptFact]] = defaultdict(list)
    by_number: dict[str, list[AttemptFact]] = defaultdict(list)
    for attempt_id, contact_id, number_hash, started_at, purpose, program_id in rows:
        fact = AttemptFact(at=started_at, purpose=purpose, program_id=program_id, id=attempt_id)
        by_contact[contact_id].append(fact)
        by_number[number_hash].append(fact)
    return RecentAttempts(
        {k: tuple(v) for k, v in by_contact.items()}, {k: tuple(v) for k, v in by_number.items()}
    )


_E164_US = re.compile(r"\+1\d{10}")


def _stored_e164(number: str | None) -> str | None:
    """Numbers are stored normalised; anything else is re-parsed (the engine judges validity)."""
    if number and _E164_US.fullmatch(number):
        return number
    return try_e164(number) if number else None


def task_facts_many(
    rows: Sequence[TaskRow],
    *,
    at: datetime,
    queues: Mapping[int, Queue] | None = None,
) -> list[TaskFacts]:
    """Facts for task rows (dialer.rows: `TaskRow.of` makes one of a task instance).

    `queues`: the tasks' queues with their programs, when the caller has just
    read them (they are read here otherwise, each once).
    """
    numbers = [_stored_e164(row.number) for row in rows]
    valid = [n for n in numbers if n is not None]
    contact_ids = {row.contact_id for row in rows if row.contact_id is not None}
    hashes = [
        row.number_hash or (keyed_hash(e164) if e164 else "")
        for row, e164 in zip(rows, numbers, strict=True)
    ]
    # The reads that need nothing from each other go together, in one round trip.
    one = valid[0] if len(set(valid)) == 1 else None
    statements: dict[str, Statement] = {}
    if one is not None:
        statements["dnc"] = dnc_one_statement(one)
    consent_rows = consent_rows_statement(contact_ids)
    if consent_rows is not None:
        statements["consents"] = consent_rows
    if contact_ids or any(hashes):
        statements["attempts"] = recent_attempts_statement(
            contact_ids=contact_ids, number_hashes=hashes, at=at
        )
    if valid:
        statements["rnd"] = rnd_answers_statement(numbers=valid)
    found = fetch_together(statements)
    if one is not None:
        one_status, one_as_of = dnc_one_answer(one, found["dnc"][0])
        dnc: Mapping[str, DncStatus] = {one: one_status}
        registry: Mapping[str, RegistryAsOf] = {one: one_as_of}
    else:
        dnc, registry = dnc_status_many(numbers=valid), registry_as_of_many(numbers=valid)
    consents = consent_facts_from(found.get("consents", []), valid)
    attempts = recent_attempts_from(found.get("attempts", []))
    rnd = rnd_answers_from(found.get("rnd", []), valid)
    wanted = {row.queue_id for row in rows}
    queue_rows = dict(queues or {})
    if not wanted <= queue_rows.keys():
        queue_rows = {
            q.pk: q
            for q in Queue.objects.select_related("program", "current_script").filter(pk__in=wanted)
        }
    facts_of_queue = {pk: queue_facts(q) for pk, q in queue_rows.items()}
    programs = {q.program_id: program_facts(q.program) for q in queue_rows.values()}
    # Most rows share their DNC, registry and contact facts: build each distinct one once.
    dnc_facts: dict[object, DncFacts] = {}
    registry_facts: dict[object, RegistryFacts] = {}
    contact_facts: dict[tuple[str, str, str], ContactFacts] = {}
    out: list[TaskFacts] = []
    for row, e164, number_hash in zip(rows, numbers, hashes, strict=True):
        queue = queue_rows[row.queue_id]
        status = dnc.get(e164) if e164 else None
        dnc_key = (
            (status.internal, status.national, tuple(sorted(status.states))) if status else None
        )
        if dnc_key not in dnc_facts:
            # Unknown DNC status fails closed: treated as listed.
            dnc_facts[dnc_key] = DncFacts(
                internal=status.internal if status else True,
                national=status.national if status else True,
                states=frozenset(status.states) if status else frozenset(),
            )
        as_of = registry.get(e164) if e164 else None
        registry_key = (as_of.national, tuple(sorted(as_of.states.items()))) if as_of else None
        if registry_key not in registry_facts:
            registry_facts[registry_key] = RegistryFacts(
                national_as_of=as_of.national if as_of else None,
                state_as_of=dict(as_of.states) if as_of else {},
            )
        contact_key = (row.state, row.postal_code, row.patient_status)
        contact = contact_facts.get(contact_key)
        if contact is None:
            contact = contact_facts[contact_key] = ContactFacts(
                state=row.state or None,
                postal_code=row.postal_code or None,
                patient_status=row.patient_status,
            )
        out.append(
            TaskFacts(
                task_id=row.pk,
                program=programs[queue.program_id],
                queue=facts_of_queue[queue.pk],
                contact=contact,
                number=NumberFacts(
                    e164=e164,
                    line_type=row.line_type,
                    provided_by_patient=row.provided_by_patient,
                ),
                dnc=dnc_facts[dnc_key],
                registry=registry_facts[registry_key],
                consents=consents.get((row.contact_id, e164), ()) if e164 else (),
                recent_attempts=attempts.of(row.contact_id, number_hash),
                attempts_made=row.attempts,
                last_attempt_at=row.last_attempt_at,
                callback_requested_at=row.requested_at if queue.purpose == "callback" else None,
                appointment_at=row.appointment_at,
                rnd=rnd.get(e164, ()) if e164 else (),
                person_keys=_person_keys(row.contact_id, number_hash),
            )
        )
    return out


def _person_keys(contact_id: int | None, number_hash: str) -> tuple[object, ...]:
    """Who a task calls, as decide_batch compares it: its contact row (an int) and its
    number's keyed hash (a hex string; the two kinds never compare equal)."""
    if contact_id is None:
        return (number_hash,) if number_hash else ()
    return (contact_id, number_hash) if number_hash else (contact_id,)


def previous_attempt_start(attempt: CallAttempt) -> datetime | None:
    """When the task's last attempt before this one started (withdrawn ones never happened)."""
    return (
        CallAttempt.objects.filter(
            task_id=attempt.task_id, attempt_number__lt=attempt.attempt_number
        )
        .exclude(outcome=Outcome.WITHDRAWN)
        .order_by("-attempt_number")
        .values_list("started_at", flat=True)
        .first()
    )
