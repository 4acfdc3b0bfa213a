"""Dispatch: claim tasks, decide again with fresh facts, record the attempts, then call.

The last check wins: a DNC request or a consent revocation committed before
the claim stops the call, whatever the planner decided a minute earlier, and
one committed after the claim but before that call is placed stops it too
(each call is decided once more, under its task's lock, just before `place()`).
One task (a callback, on commit) and a chunk of planned tasks take the same
path; a chunk is claimed in one transaction, so its facts load in a few queries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record_many
from campaigns.models import Script
from common.fields import token_of
from dialer.acts.outcomes import attempt_hand_back, attempt_outcome_record
from dialer.acts.recheck import recheck_locked
from dialer.backends import Backend, PlacementUncertain, ProgramBackend, backend_for
from dialer.decision.engine import decide_batch
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.refusals import decisions_apply
from dialer.rows import ROW_FIELDS, TaskRow
from dialer.runtime.faults import fault_point
from dialer.runtime.planner import DISPATCH_LEASE
from dialer.selectors import task_facts_many

log = logging.getLogger(__name__)

# What the claim loads: the task row's fields (dialer.selectors, read with the number's
# stored token), and what the attempt and the audit need.
_CLAIM_FIELDS = (
    *ROW_FIELDS,
    "phone_id",
    "status",
    "next_attempt_at",
    "queue__program_id",
    "queue__current_script_id",
)
# Script versions known to be marked used (they never go back): no UPDATE for them.
_used_scripts: set[int] = set()


@dataclass(frozen=True)
class DispatchResult:
    task_id: int
    # placed | refused | not_claimed | failed | handed_back | unconfirmed
    # | waiting (an agent-first task left pending for a free staff member, dialer.runtime.pacing)
    status: str
    attempt_id: int | None = None
    reference: str = ""


def dispatch_task(*, task_id: int, backend: Backend | None = None) -> DispatchResult:
    """Place one call for a pending, due task (see dispatch_tasks)."""
    return dispatch_tasks(task_ids=[task_id], backend=backend)[0]


def dispatch_tasks(
    *,
    task_ids: Sequence[int],
    backend: Backend | None = None,
    assign: Mapping[int, int] | None = None,
) -> list[DispatchResult]:
    """Place one call for each pending, due task given, at most once per attempt number.

    1. Lock those tasks that are pending and due, or leased by the planner (SKIP
       LOCKED: a busy row belongs to another worker, which has the call in hand);
       the others are `not_claimed`: a stale message never calls a task early.
    2. Decide them all with facts read inside this transaction (`decide_batch`:
       the chunk's own calls to a person count toward their caps).
    3. Refused: reschedule or end them (an ended one is audited).
    4. Allowed: create the attempts (unique per task and attempt number), mark
       the tasks in progress, audit each dispatch with what it used; commit.
    5. Only after the commit, place the attempts one by one (`_place_checked`:
       each decided again under its task's lock at that instant, withdrawn if
       refused). A preview offer is not a call: it is decided again when staff
       take it (dialer/runtime/preview.py), so offers skip this check and their
       references are saved together. If the backend fails, the attempt is closed as `failed`, which
       retries it per the queue's policy (a new attempt number, after the
       queue's spacing).
    6. Past `DISPATCH_CHUNK_SECONDS` from the claim, the rest is not placed but
       handed back: attempts withdrawn, tasks pending and due (audited).
    Agent-first programs (dialer/runtime/pacing.py) place only as many calls as they have
    free staff: their tasks are handed to `pace`, which calls back here with
    `assign` (task id -> the staff member whose leg rings first, `placed_by`).
    A worker killed before 4 commits leaves the tasks pending and untouched; one
    killed after it leaves attempts that are never placed twice (the unique
    constraint and the tasks' in_progress status stop a second claim); the
    reconciler (dialer/runtime/reconciler.py) finishes them after their lease.
    """
    deadline = time.monotonic() + settings.DISPATCH_CHUNK_SECONDS
    ids = list(dict.fromkeys(int(i) for i in task_ids))
    asked = ids
    results: dict[int, DispatchResult] = {}
    if assign is None and backend is None:
        results, ids = _paced(ids)
    backend = backend or backend_for()
    now = timezone.now()
    attempts: list[CallAttempt] = []
    with transaction.atomic():
        tasks: list[CallTask] = list(
            CallTask.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact", "phone", "queue")
            .only(*_CLAIM_FIELDS)
            .annotate(phone_token=token_of("phone__number"))
            .filter(
                pk__in=ids, status=TaskStatus.PENDING, next_attempt_at__lte=now + DISPATCH_LEASE
            )
            .order_by("pk")
        )
        if tasks:
            rows = [TaskRow.of(task) for task in tasks]
            facts = task_facts_many(rows, at=now)
            decisions = decide_batch(facts, now)
            decided = decisions_apply(
                rows=rows,
                decisions=decisions,
                now=now,
                allowed_until=None,  # the allowed go on to their attempts, below
            )
            events = decided.events
            allowed = []
            for task, fact, decision in zip(tasks, facts, decisions, strict=True):
                if decision.allowed:
                    allowed.append((task, fact, decision))
                else:
                    results[task.pk] = DispatchResult(task.pk, "refused")
            if allowed:
                attempts = _record_attempts(
                    allowed, backend=backend, now=now, events=events, assign=assign or {}
                )
            audit_record_many(events)
    for index, attempt in enumerate(attempts):
        if time.monotonic() >= deadline:
            for late in attempts[index:]:
                attempt_hand_back(attempt_id=late.pk, reason="chunk_deadline", actor=ACTOR)
                results[late.task_id] = DispatchResult(late.task_id, "handed_back", late.pk)
            log.warning(
                "dispatch: %s of %s attempts handed back at the chunk deadline",
                len(attempts) - index,
                len(attempts),
            )
            break
        fault_point("dispatch.before_place")
        if _offers_only(attempt, backend):
            results[attempt.task_id] = _offer(attempt, backend)
        else:
            results[attempt.task_id] = _place_checked(attempt, backend)
    offered = [
        (r.attempt_id, r.reference)
        for r in results.values()
        if r.status == "placed" and r.reference.startswith("preview:")
    ]
    if offered:
        _save_references(offered)
    placed = sum(r.status == "placed" for r in results.values())
    if placed:
        log.info("dispatched %s of %s tasks via %s", placed, len(ids), backend.name)
    return [results.get(i) or DispatchResult(i, "not_claimed") for i in asked]


def _paced(ids: list[int]) -> tuple[dict[int, DispatchResult], list[int]]:
    """Hand the agent-first tasks among `ids` to pacing; the rest is dispatched as given."""
    from dialer.runtime.pacing import agent_first_tasks, pace

    agent_first = agent_first_tasks(ids)
    if not agent_first:
        return {}, ids
    done = {p.task_id: p for p in pace(program_ids=set(agent_first.values()))}
    results = {
        t: DispatchResult(t, done[t].status, done[t].attempt_id)
        if t in done
        else DispatchResult(t, "waiting")
        for t in agent_first
    }
    return results, [i for i in ids if i not in agent_first]


def _record_attempts(
    allowed: list[tuple[CallTask, Any, Any]],
    *,
    backend: Backend,
    now: Any,
    events: list[dict[str, Any]],
    assign: Mapping[int, int],
) -> list[CallAttempt]:
    """Create the attempts, mark their tasks in progress and add their audit events."""
    task_ids = [task.pk for task, _, _ in allowed]
    # Withdrawn attempts keep their numbers, so the next number is max + 1.
    last = dict(
        CallAttempt.objects.filter(task_id__in=task_ids)
        .values("task_id")
        .annotate(n=Max("attempt_number"))
        .values_list("task_id", "n")
    )
    attempts = CallAttempt.objects.bulk_create(
        [
            CallAttempt(
                task=task,
                phone_id=task.phone_id,
                attempt_number=last.get(task.pk, 0) + 1,
                started_at=now,
                script_id=task.queue.current_script_id,
                backend=backend.name,
                decision=decision.to_dict(),
                placed_by_id=assign.get(task.pk),
            )
            for task, _, decision in allowed
        ]
    )
    scripts = {
        script_id
        for task, _, _ in allowed
        if (script_id := task.queue.current_script_id) is not None
        and script_id not in _used_scripts
    }
    if scripts:
        Script.objects.filter(pk__in=scripts, used=False).update(used=True)
        transaction.on_commit(lambda: _used_scripts.update(scripts))
    with connection.cursor() as cursor:
        cursor.execute(_CLAIMED, [now, now, [a.pk for a in attempts]])
    for attempt, (task, fact, _) in zip(attempts, allowed, strict=True):
        events.append(
            {
                "actor": "system:dispatch",
                "action": "call.dispatched",
                "object_type": "call_attempt",
                "object_id": attempt.pk,
                "program_id": task.queue.program_id,
                "data": {
                    "task": task.pk,
                    "attempt_number": attempt.attempt_number,
                    "script_id": attempt.script_id,
                    "consent_ids": [c.id for c in fact.consents],
                    "registry_as_of": fact.registry.national_as_of.isoformat()
                    if fact.registry.national_as_of
                    else None,
                    "decision": attempt.decision,
                },
            }
        )
    return attempts


# The tasks of new attempts: in progress, counted, and the decision of their attempt.
_CLAIMED = """
UPDATE dialer_calltask AS t
   SET status = 'in_progress',
       attempts = t.attempts + 1,
       last_attempt_at = %s,
       updated_at = %s,
       last_decision = a.decision
  FROM dialer_callattempt AS a
 WHERE a.id = ANY(%s::bigint[]) AND t.id = a.task_id
"""


ACTOR = "system:dispatch"


def _offers_only(attempt: CallAttempt, backend: Backend) -> bool:
    """Whether this attempt goes to preview (offered in "My calls", dialled by staff)."""
    if isinstance(backend, ProgramBackend):
        return backend.backend_of(attempt).name == "preview"
    return backend.name == "preview"


def _offer(attempt: CallAttempt, backend: Backend) -> DispatchResult:
    try:
        reference = backend.place(attempt)
    except Exception as exc:  # the offer could not be made: closed as failed, retried
        log.warning(
            "backend %s could not offer attempt %s (%s)",
            backend.name,
            attempt.pk,
            type(exc).__name__,
        )
        attempt_outcome_record(attempt_id=attempt.pk, outcome=Outcome.FAILED, actor=ACTOR)
        return DispatchResult(attempt.task_id, "failed", attempt.pk)
    return DispatchResult(attempt.task_id, "placed", attempt.pk, reference)


def _place_checked(attempt: CallAttempt, backend: Backend) -> DispatchResult:
    """Place one recorded attempt if its task still allows it at this instant.

    One transaction, holding the task's lock from the check to the saved reference:
    1. Lock the task, then the attempt. An attempt closed meanwhile (withdrawn by
       the reconciler) or already placed is left alone.
    2. A task no longer in progress (a DNC request, a revocation): withdraw the
       attempt, the task stays as it is.
    3. Decide again with fresh facts, as if this attempt had not been made;
       refused: withdraw it and apply the refusal to the task (audited).
    4. Place it (each provider request bounded by TELEPHONY_PLACE_TIMEOUT_SECONDS)
       and save the reference before the lock is released, so that an attempt
       without a reference, once its transaction is over, was never handed to
       the provider by us (the reconciler relies on this).
       A failure closes the attempt as `failed`; a provider that took the dial
       but did not confirm it (PlacementUncertain) leaves the attempt open with
       an unconfirmed reference, for the reconciler to ask about, never to redial.
    A DNC request committed while the call is being placed waits for the lock and
    then cancels the task; the call already ringing keeps its outcome on the attempt.
    """
    now = timezone.now()
    with transaction.atomic():
        task = (
            CallTask.objects.select_for_update(of=("self",))
            .select_related("contact", "phone", "queue")
            .only(*_CLAIM_FIELDS, "closed_reason", "last_decision", "updated_at")
            .get(pk=attempt.task_id)
        )
        row = CallAttempt.objects.select_for_update().get(pk=attempt.pk)
        if row.backend_ref:
            return DispatchResult(task.pk, "placed", row.pk, row.backend_ref)
        if row.outcome:
            return DispatchResult(task.pk, "not_claimed", row.pk)
        row.task = task
        if recheck_locked(task, row, now=now, actor=ACTOR):
            return DispatchResult(task.pk, "refused", row.pk)
        try:
            with transaction.atomic():  # a failing backend must not break this transaction
                reference = backend.place(row)
        except PlacementUncertain:
            reference = f"{row.backend}:{UNCONFIRMED}"
            log.warning("backend %s did not confirm attempt %s", row.backend, row.pk)
            CallAttempt.objects.filter(pk=row.pk).update(backend_ref=reference)
            return DispatchResult(task.pk, "unconfirmed", row.pk, reference)
        except Exception as exc:  # any backend failure: the call was not placed by us
            # The exception's text may carry the number: only its type is logged.
            log.warning(
                "backend %s could not place attempt %s (%s)",
                backend.name,
                row.pk,
                type(exc).__name__,
            )
            attempt_outcome_record(attempt_id=row.pk, outcome=Outcome.FAILED, actor=ACTOR)
            return DispatchResult(task.pk, "failed", row.pk)
        CallAttempt.objects.filter(pk=row.pk, backend_ref="").update(backend_ref=reference)
    return DispatchResult(task.pk, "placed", row.pk, reference)


# The reference of a call the provider took without naming it (the reconciler asks).
UNCONFIRMED = "?"


def _save_references(placed: list[tuple[int | None, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dialer_callattempt AS a SET backend_ref = v.ref"
            " FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, ref)"
            " WHERE a.id = v.id AND a.backend_ref = ''",
            [[pk for pk, _ in placed], [ref for _, ref in placed]],
        )
