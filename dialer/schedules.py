"""Every periodic task, declared here once and kept in django-celery-beat's tables.

Campaign managers edit the schedules (hours, days, enabled) in the admin; a
sync creates what is missing and never overwrites what they changed.
"""

from __future__ import annotations

import json
from typing import Any

from django_celery_beat.models import CrontabSchedule, PeriodicTask

# name -> (task, crontab fields)
PERIODIC: dict[str, tuple[str, dict[str, str]]] = {
    "plan due tasks": ("dialer.bulk_plan_tick", {"minute": "*"}),
    "beat heartbeat": ("dialer.heartbeat", {"minute": "*"}),
    "abandonment check": ("dialer.bulk_abandonment_check", {"minute": "*/5"}),
}


def schedules_sync() -> None:
    for name, (task, cron) in PERIODIC.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=cron.get("minute", "*"),
            hour=cron.get("hour", "*"),
            day_of_week=cron.get("day_of_week", "*"),
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=schedule, kwargs=json.dumps({}))


def schedules_sync_on_migrate(**kwargs: Any) -> None:
    schedules_sync()
