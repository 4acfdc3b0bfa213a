"""Celery entry points: take ids, call a service, nothing else.

Routing (settings.CELERY_TASK_ROUTES): names containing `bulk_` go to the
`bulk` queue, the rest to `dispatch`. The `dispatch` queue carries only what
must not wait: a callback's dispatch (speed to lead) and beat's heartbeat.
Planned calls go to `bulk` in chunks, behind the planning ticks: a tick that
hands over 100,000 calls would otherwise put a callback behind 500 chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from audit.actors import actor_system
from dialer.acts.alumni_import import ALUMNI_IMPORT_TASK, alumni_import_run
from dialer.acts.appointment_import import APPOINTMENT_IMPORT_TASK, appointments_import_run
from dialer.listings import listings_refresh
from dialer.presence import PACE_TASK
from dialer.runtime.abandonment import abandonment_enforce
from dialer.runtime.dispatch import dispatch_task, dispatch_tasks
from dialer.runtime.health import BEAT_KEY
from dialer.runtime.pacing import pace
from dialer.runtime.planner import plan_queue
from dialer.runtime.preview import preview_release_expired
from dialer.runtime.reconciler import reconcile_stranded
from dialer.runtime.rnd import rnd_refresh
from dialer.runtime.schedules import schedules_sync

# Planned tasks travel in chunks: one message per task costs about half a
# millisecond to publish, which a planner handing over 100,000 calls cannot afford.
DISPATCH_CHUNK = 200
# Batches of 5,000 per planning message: a huge queue goes on in a fresh
# message at the back of the bulk queue, so the other queues get their turn.
PLAN_BATCHES_PER_MESSAGE = 4


def _enqueue_dispatch(task_ids: Sequence[int]) -> None:
    """Hand planned tasks to dispatch, in chunks, over one broker connection."""
    with dispatch_planned.app.producer_or_acquire() as producer:
        for start in range(0, len(task_ids), DISPATCH_CHUNK):
            chunk = [int(i) for i in task_ids[start : start + DISPATCH_CHUNK]]
            # A short argsrepr: Celery's own walks the 200 ids, a fifth of a publish. (Celery
            # passes it on with the other options; its stubs do not list it.)
            dispatch_planned.apply_async(  # type: ignore[call-arg]
                (chunk,), producer=producer, argsrepr=f"[<{len(chunk)} task ids>]"
            )


@shared_task(acks_late=True, name="dialer.dispatch")
def dispatch(task_id: int) -> str:
    """One task (a callback, on commit). Idempotent: a task claimed or closed is left alone."""
    return dispatch_task(task_id=task_id).status


def dispatch_soon(task_id: int) -> None:
    """Send `dispatch` for one task now (a callback, on commit), with what Celery would
    otherwise work out for each message given: its arguments' repr, and no queue to
    declare (the default exchange puts a message straight on the queue named by its
    routing key, and the workers declare the queues they consume). A callback's
    publish cost about a millisecond of CPU in a request, a sixth of the request."""
    # Celery passes argsrepr and kwargsrepr on with the other options; its stubs omit them.
    dispatch.apply_async(  # type: ignore[call-arg]
        (task_id,), argsrepr=f"({task_id},)", kwargsrepr="{}", declare=[]
    )


@shared_task(acks_late=True, name="dialer.bulk_dispatch_planned")
def dispatch_planned(task_ids: list[int]) -> int:
    """Planned tasks, claimed and decided in one transaction; a redelivered chunk skips
    what is done.

    If this worker dies mid-chunk, its transaction rolls back and the message
    comes back (acks_late); if it never comes back, the planner's lease runs
    out and the next tick plans the tasks again.
    """
    results = dispatch_tasks(task_ids=task_ids)
    return sum(result.status == "placed" for result in results)


@shared_task(acks_late=True, name="dialer.bulk_plan_queue")
def plan_queue_task(queue_id: int) -> int:
    """One queue's planning tick (its schedule is in dialer.runtime.schedules)."""
    result = plan_queue(
        queue_id=queue_id, enqueue=_enqueue_dispatch, max_batches=PLAN_BATCHES_PER_MESSAGE
    )
    if result.more:
        plan_queue_task.delay(queue_id)
    return len(result.allowed)


@shared_task(name=PACE_TASK)
def pace_task(program_ids: list[int] | None = None) -> int:
    """Agent-first programs: one call per free staff member (on the dispatch queue: a free
    staff member waits for it). Every minute, and on commit when staff become free."""
    return sum(p.status == "placed" for p in pace(program_ids=program_ids))


@shared_task(name="dialer.bulk_schedules_sync")
def schedules_sync_task() -> int:
    return schedules_sync()


@shared_task(name="dialer.bulk_abandonment_check")
def abandonment_check() -> int:
    return len(abandonment_enforce())


@shared_task(name="dialer.bulk_rnd_refresh")
def rnd_refresh_task() -> int:
    """Ask the RND provider about the numbers of active queues that wait for an answer."""
    return rnd_refresh(at=timezone.now(), actor=actor_system("rnd_refresh"))


# One pass a minute brings this many phones to a new registry generation: a portfolio
# of a million phones is current again within minutes of a load; until then a tick
# decrypts and scrubs the phones still behind, as it always could.
LISTINGS_PER_RUN = 400_000


@shared_task(name="dialer.bulk_listings_refresh")
def listings_refresh_task() -> int:
    return listings_refresh(limit=LISTINGS_PER_RUN)


@shared_task(name="dialer.bulk_preview_release_expired")
def preview_release_expired_task() -> int:
    """Every minute: preview calls taken and not logged in time go back (runtime.preview)."""
    return preview_release_expired(now=timezone.now())


@shared_task(name="dialer.reconcile")
def reconcile() -> int:
    """Settle attempts left without an outcome past their lease (dialer/runtime/reconciler.py).
    On the dispatch queue: a stranded task holds back every new callback for its number."""
    return sum(reconcile_stranded().values())


@shared_task(name="dialer.heartbeat")
def heartbeat() -> None:
    cache.set(BEAT_KEY, timezone.now().isoformat(), timeout=None)


@shared_task(acks_late=True, name=ALUMNI_IMPORT_TASK)
def bulk_alumni_import(import_id: int) -> str:
    """Idempotent: a run already claimed or finished is left alone; a lost run resumes."""
    report = alumni_import_run(import_id=import_id)
    return "skipped" if report is None else "done"


@shared_task(acks_late=True, name=APPOINTMENT_IMPORT_TASK)
def bulk_appointment_import(import_id: int) -> str:
    """Idempotent: a file already imported is left alone."""
    return "done" if appointments_import_run(import_id=import_id) else "skipped"
