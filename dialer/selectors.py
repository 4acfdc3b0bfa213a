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

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaigns.models import Program, Purpose, Queue
from common.collector import collector_paused
from common.crypto import keyed_hash
from common.phones import stored_e164
from common.together import Statement, bigint_array, fetch_together, joined
from consent.selectors import consent_facts_by_hash, consent_rows_statement
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
from dialer.listings import UNREADABLE
from dialer.models import CallAttempt, Outcome
from dialer.rows import TaskRow
from dnc.rnd.selectors import rnd_answers_by_hash, rnd_hashes_statement
from dnc.selectors import (
    DncStatus,
    RegistryAsOf,
    dnc_one_answer,
    dnc_one_statement,
    dnc_status_kept,
    dnc_status_many,
    registry_as_of_areas,
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
            "contacts": bigint_array(set(contact_ids)),
            "hashes": joined({h for h in number_hashes if h}),
            "since": at - RECENT_ATTEMPTS,
        },
    )


@dataclass(frozen=True, slots=True)
class RecentAttempts:
    """Recent attempts found per contact row and per number hash, each newest first."""

    by_contact: Mapping[int, tuple[AttemptFact, ...]]
    by_number: Mapping[str, tuple[AttemptFact, ...]]

    def __bool__(self) -> bool:
        return bool(self.by_contact or self.by_number)

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


@collector_paused()
def task_facts_many(
    rows: Sequence[TaskRow],
    *,
    at: datetime,
    queues: Mapping[int, Queue] | None = None,
    new_contacts: Collection[int] = (),
) -> list[TaskFacts]:
    """Facts for task rows (dialer.rows: `TaskRow.of` makes one of a task instance).

    A row with its number decrypted is scrubbed against the registries now; a row
    without (a planning tick, `due_task_rows`) carries its phone's kept registry
    answer of the current generation (dialer.listings) and is known by exchange and
    keyed hash alone: the internal list, consents and RND answers are all read by
    keyed hash. `queues`: the tasks' queues with their programs, when the caller
    has just read them (they are read here otherwise, each once). `new_contacts`:
    contacts the caller created in this transaction, of which nothing is recorded yet
    (no consent, no attempt; their numbers' attempts are still read by keyed hash).
    """
    numbers = [stored_e164(row.number) for row in rows]
    valid = [n for n in numbers if n is not None]
    hashes = [
        row.number_hash or (keyed_hash(e164) if e164 else "")
        for row, e164 in zip(rows, numbers, strict=True)
    ]
    kept = [
        not row.number_read and bool(row.exchange) and row.registry_lists != UNREADABLE
        for row in rows
    ]
    contact_ids = {row.contact_id for row in rows if row.contact_id is not None}
    contact_ids.difference_update(new_contacts)
    # The reads that need nothing from each other go together, in one round trip.
    one = valid[0] if len(set(valid)) == 1 and not any(kept) else None
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
    if valid or any(kept):
        statements["rnd"] = rnd_hashes_statement(number_hashes=hashes)
    found = fetch_together(statements)
    # DNC status per row: scrubbed now, or kept on the phone; registry freshness per area.
    statuses: list[DncStatus | None]
    registry: dict[int, RegistryAsOf] = {}
    if one is not None:
        one_status, registry[int(one[2:5])] = dnc_one_answer(one, found["dnc"][0])
        statuses = [one_status if e164 is not None else None for e164 in numbers]
    else:
        scrubbed = dnc_status_many(numbers=valid) if valid else {}
        statuses = [scrubbed.get(e164) if e164 is not None else None for e164 in numbers]
        positions = [i for i, k in enumerate(kept) if k]
        if positions:
            from_phones = dnc_status_kept(
                number_hashes=[hashes[i] for i in positions],
                kept=[(rows[i].registry_generation, rows[i].registry_lists) for i in positions],
            )
            for i, kept_status in zip(positions, from_phones, strict=True):
                statuses[i] = kept_status
    exchanges = [
        e164[:8] if e164 is not None else ("+1" + row.exchange if k else None)
        for row, e164, k in zip(rows, numbers, kept, strict=True)
    ]
    areas = {int(x[2:5]) for x in exchanges if x is not None}
    if areas - registry.keys():
        registry.update(registry_as_of_areas(areas=areas - registry.keys()))
    consents = consent_facts_by_hash(found.get("consents", []), hashes)
    attempts = recent_attempts_from(found.get("attempts", []))
    rnd = rnd_answers_by_hash(found.get("rnd", []))
    wanted = {row.queue_id for row in rows}
    queue_rows = dict(queues or {})
    if not wanted <= queue_rows.keys():
        queue_rows = {
            q.pk: q
            for q in Queue.objects.select_related("program", "current_script").filter(pk__in=wanted)
        }
    facts_of_queue = {pk: queue_facts(q) for pk, q in queue_rows.items()}
    programs = {q.program_id: program_facts(q.program) for q in queue_rows.values()}
    # Most rows share their DNC, registry and contact facts: build each distinct one once
    # (statuses and as-of answers are shared objects, so they are told apart by identity).
    dnc_facts: dict[int, DncFacts] = {}
    registry_facts: dict[int, RegistryFacts] = {}
    registry_of_exchange: dict[str | None, RegistryFacts] = {}
    number_facts: dict[tuple[str | None, str, bool], NumberFacts] = {}
    contact_facts: dict[tuple[str, str, str], ContactFacts] = {}
    out: list[TaskFacts] = []
    # Per queue once: its program's facts, its own, and whether it is a callback queue.
    per_queue = {
        pk: (programs[q.program_id], facts_of_queue[pk], q.purpose == Purpose.CALLBACK)
        for pk, q in queue_rows.items()
    }
    have_consents, have_attempts, have_rnd = bool(consents), bool(attempts), bool(rnd)
    for row, exchange, number_hash, status in zip(rows, exchanges, hashes, statuses, strict=True):
        program, queue, callback = per_queue[row.queue_id]
        dnc = dnc_facts.get(id(status))
        if dnc is None:
            # Unknown DNC status fails closed: treated as listed.
            dnc = dnc_facts[id(status)] = DncFacts(
                internal=status.internal if status else True,
                national=status.national if status else True,
                states=frozenset(status.states) if status else frozenset(),
            )
        registered = registry_of_exchange.get(exchange)
        if registered is None:
            as_of = registry.get(int(exchange[2:5])) if exchange else None
            registered = registry_facts.get(id(as_of))
            if registered is None:
                registered = registry_facts[id(as_of)] = RegistryFacts(
                    national_as_of=as_of.national if as_of else None,
                    state_as_of=dict(as_of.states) if as_of else {},
                )
            registry_of_exchange[exchange] = registered
        number_key = (exchange, row.line_type, row.provided_by_patient)
        number = number_facts.get(number_key)
        if number is None:
            number = number_facts[number_key] = NumberFacts(*number_key)
        contact_key = (row.state, row.postal_code, row.patient_status)
        contact = contact_facts.get(contact_key)
        if contact is None:
            contact = contact_facts[contact_key] = ContactFacts(
                state=row.state or None,
                postal_code=row.postal_code or None,
                patient_status=row.patient_status,
            )
        contact_id = row.contact_id
        # Positional, in TaskFacts' field order: keywords cost a third more per row, and
        # a batch builds 100,000 of these.
        out.append(
            TaskFacts(
                row.pk,
                program,
                queue,
                contact,
                number,
                dnc,
                registered,
                consents.get((contact_id, number_hash), ()) if have_consents and exchange else (),
                attempts.of(contact_id, number_hash) if have_attempts else (),
                row.attempts,
                row.last_attempt_at,
                row.requested_at if callback else None,
                row.appointment_at,
                rnd.get(number_hash, ()) if have_rnd and exchange else (),
                _person_keys(contact_id, number_hash),
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
