"""The supervisor view's figures, for a manager's programs: staff and their state, calls in
flight, today per queue, and the after-hours callback latency by week (no number, no name)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytz
from django.conf import settings
from django.db.models import Count, Min, Q

from campaigns.models import Program, Purpose, Queue
from dialer.models import CallAttempt, CallTask, Outcome, PresenceState, StaffPresence
from dialer.runtime.abandonment import AbandonmentRate, abandonment_rates

WEEKS = 8


@dataclass(frozen=True, slots=True)
class StaffRow:
    username: str
    state: str  # the state's label; "Away (page closed)" once the presence lapsed
    since: datetime
    answer_at: str
    call: str  # the call in hand, "#id queue" (no number, no name), or ""


@dataclass(frozen=True, slots=True)
class QueueToday:
    program: str
    queue: str
    attempts: int
    connects: int
    answered: int
    abandoned: int
    in_flight: int  # attempts with no outcome yet (offered, in hand or ringing)
    rate_30d: AbandonmentRate  # the rule's own window (dialer.runtime.abandonment)


@dataclass(frozen=True, slots=True)
class LatencyWeek:
    week: str  # the Monday, YYYY-MM-DD
    requests: int  # after-hours callbacks requested that week
    to_attempt_s: float | None  # median, request to first attempt
    to_connect_s: float | None  # median, request to first connect


def staff_rows(*, program_ids: set[int], now: datetime) -> list[StaffRow]:
    fresh = now - timedelta(seconds=settings.PRESENCE_TIMEOUT_SECONDS)
    in_hand = {
        a.placed_by_id: f"#{a.pk} {a.task.queue.name}"
        for a in CallAttempt.objects.filter(placed_by__isnull=False, outcome="")
        .select_related("task__queue")
        .only("placed_by_id", "task__queue__name")
    }
    rows = []
    presences = (
        StaffPresence.objects.filter(user__programs__in=program_ids, user__is_active=True)
        .select_related("user")
        .distinct()
        .order_by("user__username")
    )
    for p in presences:
        state = p.get_state_display()
        if p.state != PresenceState.AWAY and p.seen_at < fresh:
            state = "Away (page closed)"
        rows.append(
            StaffRow(p.user.username, state, p.since, p.answer_at, in_hand.get(p.user_id, ""))
        )
    return rows


def _local_midnight(program: Program, now: datetime) -> datetime:
    zone = pytz.timezone(program.timezone)
    local = now.astimezone(zone)
    return zone.localize(datetime(local.year, local.month, local.day))


def queues_today(*, program_ids: set[int], now: datetime) -> list[QueueToday]:
    """Per active queue: today's attempts (since midnight in the program's zone), connects
    and abandoned calls, the calls in flight, and the 30-day abandonment rate."""
    queues = list(
        Queue.objects.filter(program_id__in=program_ids, active=True)
        .select_related("program")
        .order_by("program__legal_name", "name", "id")
    )
    rates = abandonment_rates(at=now, queue_ids=[q.pk for q in queues])
    result = []
    for queue in queues:
        since = _local_midnight(queue.program, now)
        today = CallAttempt.objects.filter(task__queue=queue).aggregate(
            attempts=Count(
                "id",
                filter=Q(started_at__gte=since) & ~Q(outcome=Outcome.WITHDRAWN),
            ),
            connects=Count(
                "id",
                filter=Q(started_at__gte=since, outcome="connected"),
            ),
            answered=Count("id", filter=Q(started_at__gte=since, answered=True)),
            abandoned=Count(
                "id",
                filter=Q(started_at__gte=since, abandoned=True),
            ),
            in_flight=Count("id", filter=Q(outcome="")),
        )
        result.append(
            QueueToday(
                program=queue.program.legal_name,
                queue=queue.name,
                rate_30d=rates.get(queue.pk, AbandonmentRate(0, 0)),
                **today,
            )
        )
    return result


def after_hours(program: Program, at: datetime) -> bool:
    """Outside the program's business hours and days, in its own zone."""
    local = at.astimezone(pytz.timezone(program.timezone))
    days = program.business_days or range(7)
    start, end = program.business_start, program.business_end
    return local.weekday() not in days or not (start <= local.time() < end)


def after_hours_latency(*, program_ids: set[int], now: datetime) -> list[LatencyWeek]:
    """The last WEEKS weeks (Monday to Sunday, UTC): callbacks requested after hours, and the
    median time from the request to the first attempt and to the first connect."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    first_week = monday - timedelta(weeks=WEEKS - 1)
    tasks = (
        CallTask.objects.filter(
            queue__program_id__in=program_ids,
            queue__purpose=Purpose.CALLBACK,
            requested_at__gte=first_week,
            requested_at__lte=now,
        )
        .select_related("queue__program")
        .annotate(
            first_attempt=Min(
                "attempt_set__started_at", filter=~Q(attempt_set__outcome="withdrawn")
            ),
            first_connect=Min(
                "attempt_set__started_at", filter=Q(attempt_set__outcome=Outcome.CONNECTED)
            ),
        )
        .only("requested_at", "queue__program")
    )
    weeks: dict[int, tuple[list[float], list[float], list[int]]] = {
        i: ([], [], []) for i in range(WEEKS)
    }
    for task in tasks:
        requested = task.requested_at
        if requested is None or not after_hours(task.queue.program, requested):
            continue
        to_attempt, to_connect, count = weeks[(requested - first_week).days // 7]
        count.append(1)
        first_attempt: datetime | None = getattr(task, "first_attempt", None)
        first_connect: datetime | None = getattr(task, "first_connect", None)
        if first_attempt is not None:
            to_attempt.append(max((first_attempt - requested).total_seconds(), 0.0))
        if first_connect is not None:
            to_connect.append(max((first_connect - requested).total_seconds(), 0.0))
    return [
        LatencyWeek(
            week=(first_week + timedelta(weeks=i)).date().isoformat(),
            requests=len(weeks[i][2]),
            to_attempt_s=statistics.median(weeks[i][0]) if weeks[i][0] else None,
            to_connect_s=statistics.median(weeks[i][1]) if weeks[i][1] else None,
        )
        for i in range(WEEKS)
    ]


def latency_chart(weeks: list[LatencyWeek]) -> str:
    """The latency by week as an SVG data URI, drawn as the dashboard draws its charts."""
    from common.charts import BLUE, GREEN, figure, no_data, style, svg

    fig = figure()
    ax = fig.subplots()
    drawn = False
    for attr, label, color in (
        ("to_attempt_s", "to first attempt", BLUE),
        ("to_connect_s", "to first connect", GREEN),
    ):
        points = [
            (i, getattr(w, attr) / 60) for i, w in enumerate(weeks) if getattr(w, attr) is not None
        ]
        if points:
            drawn = True
            ax.plot(
                [p[0] for p in points], [p[1] for p in points], color=color, marker="o", label=label
            )
    if drawn:
        ax.legend(fontsize=8)
    else:
        no_data(ax)
    ax.set_xticks(
        range(len(weeks)), [w.week[5:] for w in weeks], rotation=45, ha="right", fontsize=8
    )
    ax.set_xlim(-0.5, max(len(weeks) - 0.5, 0.5))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("week starting")
    ax.set_ylabel("minutes (median)")
    style(ax)
    return svg(fig)
