"""Reading the facts the decision needs, in bulk: a few queries for any number of tasks.

1. task rows with their contact and phone (one query, joined, values only), and
   each queue and program once;
2. DNC status and registry as-of dates for every number (dnc selectors, set-based);
3. consents of every contact (consent selector, one query);
4. recent attempts to every contact (one query);
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
from dialer.models import CallTask
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


@dataclass(frozen=True, slots=True)
class TaskRow:
    """What the decision reads of one task, without model instances (cheap in bulk)."""

    pk: int
    queue_id: int
    contact_id: int
    program_id: int
    state: str
    postal_code: str
    patient_status: str
    number: str | None  # decrypted E.164
    line_type: str
    provided_by_patient: bool
    attempts: int
    last_attempt_at: datetime | None
    requested_at: datetime | None
    appointment_at: datetime | None

    @classmethod
    def of(cls, task: CallTask) -> TaskRow:
        """From a task instance with its contact and phone (saved or not)."""
        contact, phone = task.contact, task.phone
        return cls(
            pk=task.pk,
            queue_id=task.queue_id,
            contact_id=contact.pk,
            program_id=contact.program_id,
            state=contact.state,
            postal_code=contact.postal_code,
            patient_status=contact.patient_status,
            number=phone.number,
            line_type=phone.line_type,
            provided_by_patient=phone.provided_by_patient,
            attempts=task.attempts,
            last_attempt_at=task.last_attempt_at,
            requested_at=task.requested_at,
            appointment_at=task.appointment_at,
        )


_ROW_COLUMNS = (
    "id",
    "queue_id",
    "contact_id",
    "contact__program_id",
    "contact__state",
    "contact__postal_code",
    "contact__patient_status",
    "phone__number",
    "phone__line_type",
    "phone__provided_by_patient",
    "attempts",
    "last_attempt_at",
    "requested_at",
    "appointment_at",
)


def due_task_rows(*, queue_id: int, now: datetime, limit: int, lock: bool = False) -> list[TaskRow]:
    """Pending tasks of one queue whose time has come, oldest first (index task_due_per_queue).

    With `lock`, the task rows are locked FOR UPDATE SKIP LOCKED (a row that a
    dispatch holds is left for the next tick). Values, not models: at 100,000
    rows, model instances would cost more than the whole decision.
    """
    qs = CallTask.objects.filter(
        queue_id=queue_id, status="pending", next_attempt_at__lte=now
    ).order_by("next_attempt_at")
    if lock:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    # The encrypted number comes back decrypted: values_list applies the field's converter.
    return [TaskRow(*values) for values in qs.values_list(*_ROW_COLUMNS)[:limit]]


# Driven from the contacts (their tasks by index, then those tasks' attempts by index),
# so that the cost follows the batch, not the size of the task table: with the
# contacts as a filter instead, PostgreSQL may scan every task for each batch.
_RECENT_ATTEMPTS_SQL = """
SELECT t.contact_id, a.started_at, q.purpose, q.program_id
  FROM unnest(%s::bigint[]) AS c(id)
  JOIN dialer_calltask t ON t.contact_id = c.id
  JOIN dialer_callattempt a ON a.task_id = t.id
  JOIN campaigns_queue q ON q.id = t.queue_id
 WHERE a.started_at >= %s AND a.outcome <> 'withdrawn'
 ORDER BY a.started_at DESC
"""


def recent_attempts_statement(*, contact_ids: Iterable[int], at: datetime) -> Statement:
    """Attempts to these people in the last 8 days, newest first (one array parameter:
    an IN list of 100,000 parameters costs more than the query)."""
    return Statement(_RECENT_ATTEMPTS_SQL, [list(set(contact_ids)), at - RECENT_ATTEMPTS])


def recent_attempts_from(rows: Iterable[tuple[Any, ...]]) -> dict[int, tuple[AttemptFact, ...]]:
    found: dict[int, list[AttemptFact]] = defaultdict(list)
    for contact_id, started_at, purpose, program_id in rows:
        found[contact_id].append(AttemptFact(at=started_at, purpose=purpose, program_id=program_id))
    return {k: tuple(v) for k, v in found.items()}


_E164_US = re.compile(r"\+1\d{10}")


def _stored_e164(number: str | None) -> str | None:
    """Numbers are stored normalised; anything else is re-parsed (the engine judges validity)."""
    if number and _E164_US.fullmatch(number):
        return number
    return try_e164(number) if number else None


def task_facts_many(
    tasks: Sequence[CallTask] | Sequence[TaskRow],
    *,
    at: datetime,
    queues: Mapping[int, Queue] | None = None,
) -> list[TaskFacts]:
    """Facts for task rows, or task instances with their contact and phone loaded.

    `queues`: the tasks' queues with their programs, when the caller has just
    read them (they are read here otherwise, each once).
    """
    rows = [t if isinstance(t, TaskRow) else TaskRow.of(t) for t in tasks]
    numbers = [_stored_e164(row.number) for row in rows]
    valid = [n for n in numbers if n is not None]
    contact_ids = {row.contact_id for row in rows if row.contact_id is not None}
    # The reads that need nothing from each other go together, in one round trip.
    one = valid[0] if len(set(valid)) == 1 else None
    statements: dict[str, Statement] = {}
    if one is not None:
        statements["dnc"] = dnc_one_statement(one)
    consent_rows = consent_rows_statement(contact_ids)
    if consent_rows is not None:
        statements["consents"] = consent_rows
        statements["attempts"] = recent_attempts_statement(contact_ids=contact_ids, at=at)
    found = fetch_together(statements)
    if one is not None:
        one_status, one_as_of = dnc_one_answer(one, found["dnc"][0])
        dnc: Mapping[str, DncStatus] = {one: one_status}
        registry: Mapping[str, RegistryAsOf] = {one: one_as_of}
    else:
        dnc, registry = dnc_status_many(numbers=valid), registry_as_of_many(numbers=valid)
    consents = consent_facts_from(found.get("consents", []), valid)
    attempts = recent_attempts_from(found.get("attempts", []))
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
    for row, e164 in zip(rows, numbers, strict=True):
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
                recent_attempts=attempts.get(row.contact_id, ()),
                attempts_made=row.attempts,
                last_attempt_at=row.last_attempt_at,
                callback_requested_at=row.requested_at if queue.purpose == "callback" else None,
                appointment_at=row.appointment_at,
            )
        )
    return out
