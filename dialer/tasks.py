"""Celery entry points: take ids, call a service, nothing else."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from campaigns.models import Queue
from dialer.abandonment import abandonment_enforce
from dialer.dispatch import dispatch_task
from dialer.planner import plan_queue

from dialer.health import BEAT_KEY


def _enqueue_dispatch(task_ids: list[int]) -> None:
    for task_id in task_ids:
        dispatch.delay(task_id)


@shared_task(acks_late=True, name="dialer.dispatch")
def dispatch(task_id: int) -> str:
    """Idempotent: a task already claimed or closed is left alone."""
    return dispatch_task(task_id=task_id).status


@shared_task(acks_late=True, name="dialer.bulk_plan_queue")
def plan_queue_task(queue_id: int) -> int:
    result = plan_queue(queue_id=queue_id, enqueue=_enqueue_dispatch)
    if result.more:  # a huge queue goes on in a fresh message, so others get their turn
        plan_queue_task.delay(queue_id)
    return len(result.allowed)


@shared_task(name="dialer.bulk_plan_tick")
def plan_tick() -> int:
    """Every minute: one planning message per active queue of an active program."""
    ids = list(
        Queue.objects.filter(active=True, program__active=True).values_list("id", flat=True)
    )
    for queue_id in ids:
        plan_queue_task.delay(queue_id)
    return len(ids)


@shared_task(name="dialer.bulk_abandonment_check")
def abandonment_check() -> int:
    return len(abandonment_enforce())


@shared_task(name="dialer.heartbeat")
def heartbeat() -> None:
    cache.set(BEAT_KEY, timezone.now().isoformat(), timeout=None)
