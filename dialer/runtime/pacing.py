"""Progressive pacing for agent-first programs: one call in flight per available staff member.

`twilio` and `sip` programs (a program's `telephony_backend`, blank meaning
TELEPHONY_BACKEND) never place a call that no staff member is waiting for:
the dial level is 1.0. `pace` is the one place that decides which calls go
out, and to whom:

1. Take the pacing lock (a PostgreSQL advisory lock): two pacers running at
   once would offer the same free staff member two calls.
2. Read the free staff of those programs (`available_staff`: available, seen
   recently, no call in hand), longest-waiting first.
3. Read the next due pending tasks of their agent-first queues: callbacks
   first, then reminders, then reactivation, oldest due first. Each task goes
   to the longest-waiting free staff member of its program.
4. Dispatch exactly those tasks with their staff member assigned
   (`CallAttempt.placed_by`); the backend rings the staff leg first. A task
   refused at the claim frees its staff member for the next round.
Tasks that wait for a staff member stay pending: the database is the queue of
record. Pacing runs from dispatch (a callback on commit, a planned chunk),
on commit when a staff member becomes available or a call ends
(`dialer.presence.pace_on_commit`), and from a beat schedule every minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from campaigns.models import Program, Purpose
from dialer.models import CallTask, TaskStatus
from dialer.presence import AGENT_FIRST_BACKENDS, available_staff

# Callbacks first (a person asked), then reminders, then reactivation.
PURPOSE_RANK = {Purpose.CALLBACK: 0, Purpose.REMINDER: 1, Purpose.REACTIVATION: 2}
PACING_LOCK = 0x70616365  # "pace": the advisory lock's key
# Rounds of assignment per pacing run: a refused task frees its staff member for the next.
MAX_ROUNDS = 4


@dataclass(frozen=True)
class Paced:
    """What one pacing run did: dispatch results of the tasks it assigned, and to whom."""

    task_id: int
    user_id: int
    status: str  # a DispatchResult status: placed | refused | not_claimed | failed | ...
    attempt_id: int | None = None


def agent_first_programs(program_ids: Iterable[int] | None = None) -> list[int]:
    """The active programs (of those given, or all) that dial agent-first."""
    programs = Program.objects.filter(active=True)
    if program_ids is not None:
        programs = programs.filter(pk__in=list(program_ids))
    chosen = Q(telephony_backend__in=AGENT_FIRST_BACKENDS)
    if settings.TELEPHONY_BACKEND in AGENT_FIRST_BACKENDS:
        chosen |= Q(telephony_backend="")
    return list(programs.filter(chosen).order_by("pk").values_list("pk", flat=True))


def agent_first_tasks(task_ids: Sequence[int]) -> dict[int, int]:
    """task id -> program id, for those of these tasks whose program dials agent-first."""
    rows = CallTask.objects.filter(pk__in=task_ids).values_list("pk", "queue__program_id")
    by_task = dict(rows)
    programs = set(agent_first_programs(set(by_task.values())))
    return {task: program for task, program in by_task.items() if program in programs}


def waiting_tasks(*, program_ids: Sequence[int], now: datetime) -> QuerySet[CallTask]:
    """Pending tasks of these programs' open queues, due now (or leased by the planner, as
    dispatch claims them), in the order staff take them."""
    from dialer.runtime.planner import DISPATCH_LEASE

    return (
        CallTask.objects.filter(
            status=TaskStatus.PENDING,
            next_attempt_at__lte=now + DISPATCH_LEASE,
            queue__program_id__in=program_ids,
            queue__active=True,
            queue__paused_reason="",
        )
        .annotate(
            rank=Case(
                *(When(queue__purpose=p, then=Value(r)) for p, r in PURPOSE_RANK.items()),
                default=Value(len(PURPOSE_RANK)),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "next_attempt_at", "pk")
    )


def _members(user_ids: list[int], program_ids: list[int]) -> dict[int, set[int]]:
    through = Program.members.through
    members: dict[int, set[int]] = {u: set() for u in user_ids}
    for user_id, program_id in through.objects.filter(
        user_id__in=user_ids, program_id__in=program_ids
    ).values_list("user_id", "program_id"):
        members[user_id].add(program_id)
    return members


def pace(*, program_ids: Iterable[int] | None = None, now: datetime | None = None) -> list[Paced]:
    """Assign the next due tasks to free staff and dispatch exactly those (see the module).

    Must not run inside a transaction: a staff leg's webhook must find its attempt committed.
    """
    from dialer.runtime.dispatch import dispatch_tasks

    programs = agent_first_programs(program_ids)
    if not programs:
        return []
    paced: list[Paced] = []
    with _pacing_lock():
        tried: set[int] = set()
        for _ in range(MAX_ROUNDS):
            at = now or timezone.now()
            staff = available_staff(program_ids=programs, now=at)
            if not staff:
                break
            members = _members([s.user_id for s in staff], programs)
            free = [s.user_id for s in staff]
            candidates = list(
                waiting_tasks(program_ids=programs, now=at)
                .exclude(pk__in=tried)
                .values_list("pk", "queue__program_id")[: len(free) * 3]
            )
            assign: dict[int, int] = {}
            for task_id, program_id in candidates:
                user_id = next((u for u in free if program_id in members[u]), None)
                if user_id is not None:
                    assign[task_id] = user_id
                    free.remove(user_id)
                if not free:
                    break
            if not assign:
                break
            tried.update(assign)
            results = dispatch_tasks(task_ids=list(assign), assign=assign)
            paced.extend(
                Paced(r.task_id, assign[r.task_id], r.status, r.attempt_id) for r in results
            )
            if all(r.status == "placed" for r in results):
                break  # nobody freed: what is left waits for the next staff member
    return paced


@contextmanager
def _pacing_lock() -> Iterator[None]:
    """A session-level advisory lock, held across dispatch's own transactions."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [PACING_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [PACING_LOCK])
