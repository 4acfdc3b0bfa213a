"""Every periodic task, declared here once and kept in django-celery-beat's tables.

Design (one place, two kinds of rows, beat's DatabaseScheduler reads them all):

1. System schedules (`SYSTEM`): the beat heartbeat (read by /health/), the
   abandonment check, the attempt reconciler (dialer/runtime/reconciler.py), the
   hourly RND refresh (dialer.runtime.rnd), the release of preview calls left in hand,
   and the sync below. Created when missing, never
   overwritten; only operators (superusers) see or change them in the admin.
2. One planning schedule per queue, the `PeriodicTask` named
   `plan queue #<queue id>`, which runs `dialer.bulk_plan_queue(queue_id=...)` on a
   crontab: every minute, in the hours and on the days chosen, in the program's
   time zone. It starts as "every minute, every day, all hours". Campaign
   managers change its days and hours and pause or resume it in the admin
   ("Periodic tasks", scoped to their programs' queues), always through
   `queue_schedule_update`, which validates, audits and saves in one transaction.

Crontab rows are treated as values, never edited in place: a change points
the queue's schedule at the crontab with the new fields (found or created), so
two queues that happened to share a crontab can never change each other.

What a schedule does and does not do: it decides when the queue's backlog
(due tasks, retries) is planned; it never widens what the law or the queue
allows, because every call is still decided in the called party's local time,
when planned and again at dispatch. A paused schedule plans nothing; a
callback still dispatches on commit (speed to lead). To stop every call of a
queue, switch the queue itself off (`Queue.active`): dispatch refuses then.

`schedules_sync` runs after migrate and every minute (itself a system
schedule): it creates what is missing (a new queue gets its schedule within a
minute), removes schedules of queues that no longer exist and retired names,
and never touches what someone changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab_parser
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from audit.services import audit_record
from campaigns.models import WEEKDAYS, Queue
from common.scoping import sees_all, user_program_ids

PLAN_TASK = "dialer.bulk_plan_queue"
PLAN_PREFIX = "plan queue #"

# name -> (task, crontab fields); times in UTC.
SYSTEM: dict[str, tuple[str, dict[str, str]]] = {
    "beat heartbeat": ("dialer.heartbeat", {"minute": "*"}),
    "abandonment check": ("dialer.bulk_abandonment_check", {"minute": "*/5"}),
    "queue schedules sync": ("dialer.bulk_schedules_sync", {"minute": "*"}),
    # RND answers go stale after 31 days: asked again a day ahead (dialer.runtime.rnd).
    "rnd refresh": ("dialer.bulk_rnd_refresh", {"minute": "23"}),
    "preview take timeout": ("dialer.bulk_preview_release_expired", {"minute": "*"}),
    "attempt reconciler": ("dialer.reconcile", {"minute": "*"}),
    # Links new audit rows into the hash chain every few seconds (audit.tasks): a short
    # pass each time, on the dispatch queue, so that no bulk work delays it.
    "audit sealer": ("audit.seal", {"seconds": str(settings.AUDIT_SEAL_INTERVAL_SECONDS)}),
    # Each phone's registry answer, brought to a new registry generation (dialer.listings).
    "registry listings refresh": ("dialer.bulk_listings_refresh", {"minute": "*"}),
    # Agent-first pacing also runs on commit when staff become free; this catches the rest.
    "agent-first pacing": ("dialer.pace", {"minute": "*"}),
}
# Names this module used to create; removed by the sync.
RETIRED = ("plan due tasks",)


class ScheduleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class QueueSchedule:
    """When a queue is planned: weekdays (0 = Monday), hours [start, end) and whether it runs."""

    days: frozenset[int]
    hour_start: int
    hour_end: int
    enabled: bool

    def validate(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ScheduleError("days", "Choose at least one day.")
        if not 0 <= self.hour_start < self.hour_end <= 24:
            raise ScheduleError(
                "hour_end", "Hours run from 0 to 24, and the end comes after the start."
            )

    def crontab_fields(self) -> dict[str, str]:
        if len(self.days) == 7:
            day_of_week = "*"
        else:  # cron counts from Sunday = 0
            day_of_week = ",".join(str(d) for d in sorted((d + 1) % 7 for d in self.days))
        if (self.hour_start, self.hour_end) == (0, 24):
            hour = "*"
        elif self.hour_end - self.hour_start == 1:
            hour = str(self.hour_start)
        else:
            hour = f"{self.hour_start}-{self.hour_end - 1}"
        return {"minute": "*", "hour": hour, "day_of_week": day_of_week}

    def describe(self) -> str:
        days = (
            "every day"
            if len(self.days) == 7
            else ", ".join(WEEKDAYS[d] for d in sorted(self.days))
        )
        return f"{days}, {self.hour_start:02d}:00-{self.hour_end:02d}:00"

    @classmethod
    def of(cls, task: PeriodicTask) -> QueueSchedule:
        """Read a schedule back from its crontab (hours as their span, if someone made gaps)."""
        cron = task.crontab
        if cron is None:
            return cls(frozenset(range(7)), 0, 24, task.enabled)
        hours = crontab_parser(24).parse(cron.hour)
        cron_days = crontab_parser(7).parse(cron.day_of_week)
        return cls(
            days=frozenset((d - 1) % 7 for d in cron_days),
            hour_start=min(hours),
            hour_end=max(hours) + 1,
            enabled=task.enabled,
        )


EVERY_MINUTE = QueueSchedule(frozenset(range(7)), 0, 24, True)


def schedule_name(queue_id: int) -> str:
    return f"{PLAN_PREFIX}{queue_id}"


def queue_id_of(task: PeriodicTask) -> int | None:
    """The queue a planning schedule is for (None for the system schedules)."""
    if task.task != PLAN_TASK or not task.name.startswith(PLAN_PREFIX):
        return None
    try:
        return int(task.name.removeprefix(PLAN_PREFIX))
    except ValueError:
        return None


def _every_seconds(seconds: int) -> IntervalSchedule:
    found, _ = IntervalSchedule.objects.get_or_create(
        every=seconds, period=IntervalSchedule.SECONDS
    )
    return found


def _crontab(fields: dict[str, str], timezone: str) -> CrontabSchedule:
    wanted = {
        "minute": fields.get("minute", "*"),
        "hour": fields.get("hour", "*"),
        "day_of_week": fields.get("day_of_week", "*"),
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": timezone,
    }
    found = CrontabSchedule.objects.filter(**wanted).order_by("id").first()
    return found or CrontabSchedule.objects.create(**wanted)


# --- selectors ---------------------------------------------------------------------------


def schedules_visible_to(
    user: Any, tasks: QuerySet[PeriodicTask] | None = None
) -> QuerySet[PeriodicTask]:
    """Operators see every schedule; anyone else only their programs' queue schedules."""
    tasks = tasks if tasks is not None else PeriodicTask.objects.all()
    if sees_all(user):
        return tasks
    queue_ids = Queue.objects.filter(program_id__in=user_program_ids(user)).values_list(
        "id", flat=True
    )
    return tasks.filter(task=PLAN_TASK, name__in=[schedule_name(q) for q in queue_ids])


def queue_schedule_of(*, queue_id: int) -> PeriodicTask | None:
    return (
        PeriodicTask.objects.select_related("crontab").filter(name=schedule_name(queue_id)).first()
    )


# --- services ----------------------------------------------------------------------------


def schedules_sync() -> int:
    """Create missing schedules, remove retired and orphaned ones; returns how many were created.

    1. System schedules: create each missing name (UTC crontab).
    2. Queue schedules: one per existing queue (every minute, in the program's zone).
    3. Delete retired names and the schedules of queues that no longer exist.
    Rows that exist are left exactly as they are.
    """
    created = 0
    existing = set(PeriodicTask.objects.values_list("name", flat=True))
    for name, (task, cron) in SYSTEM.items():
        if name not in existing:
            when: dict[str, Any] = (
                {"interval": _every_seconds(int(cron["seconds"]))}
                if "seconds" in cron
                else {"crontab": _crontab(cron, "UTC")}
            )
            _, made = PeriodicTask.objects.get_or_create(
                name=name, defaults={"task": task, "kwargs": "{}", **when}
            )
            created += made
    queues = list(Queue.objects.values_list("id", "program__timezone"))
    for queue_id, timezone in queues:
        if schedule_name(queue_id) not in existing:
            _, made = PeriodicTask.objects.get_or_create(
                name=schedule_name(queue_id),
                defaults={
                    "task": PLAN_TASK,
                    "crontab": _crontab(EVERY_MINUTE.crontab_fields(), timezone),
                    "kwargs": json.dumps({"queue_id": queue_id}),
                    "description": "Planning ticks of one queue (days, hours, pause).",
                },
            )
            created += made
    live = {schedule_name(queue_id) for queue_id, _ in queues}
    orphans = [
        name
        for name in existing
        if name in RETIRED or (name.startswith(PLAN_PREFIX) and name not in live)
    ]
    for task in PeriodicTask.objects.filter(name__in=orphans):
        task.delete()  # one by one, so that beat hears of each change
    return created


def queue_schedule_update(
    *,
    queue_id: int,
    actor: str,
    days: Iterable[int] | None = None,
    hour_start: int | None = None,
    hour_end: int | None = None,
    enabled: bool | None = None,
) -> PeriodicTask:
    """Change a queue's planning days, hours or pause state (unset arguments keep their value).

    One transaction: lock the schedule (created if the sync has not run yet),
    validate, point it at the matching crontab in the program's zone, save
    (beat reloads it), and audit the before and after.
    """
    with transaction.atomic():
        queue = Queue.objects.select_related("program").get(pk=queue_id)
        task = PeriodicTask.objects.select_for_update().filter(name=schedule_name(queue_id)).first()
        if task is None:
            schedules_sync()
            task = PeriodicTask.objects.select_for_update().get(name=schedule_name(queue_id))
        before = QueueSchedule.of(task)
        after = QueueSchedule(
            days=frozenset(days) if days is not None else before.days,
            hour_start=before.hour_start if hour_start is None else hour_start,
            hour_end=before.hour_end if hour_end is None else hour_end,
            enabled=before.enabled if enabled is None else enabled,
        )
        after.validate()
        task.crontab = _crontab(after.crontab_fields(), queue.program.timezone)
        task.interval = task.solar = task.clocked = None
        task.enabled = after.enabled
        task.save()
        audit_record(
            actor=actor,
            action="queue.schedule_changed",
            object_type="queue",
            object_id=queue.pk,
            program_id=queue.program_id,
            data={
                "before": {"schedule": before.describe(), "enabled": before.enabled},
                "after": {"schedule": after.describe(), "enabled": after.enabled},
                "timezone": queue.program.timezone,
            },
        )
    return task


def queue_schedule_pause(*, queue_id: int, actor: str) -> PeriodicTask:
    return queue_schedule_update(queue_id=queue_id, actor=actor, enabled=False)


def queue_schedule_resume(*, queue_id: int, actor: str) -> PeriodicTask:
    return queue_schedule_update(queue_id=queue_id, actor=actor, enabled=True)


def schedules_sync_on_migrate(**kwargs: Any) -> None:
    schedules_sync()
