"""Benchmark of agent-first pacing against preview dialling, on a simulated clock.

    python bench/agents.py            # 20 staff, 5,000 callbacks
    python bench/agents.py --quick    # 4 staff, 150 callbacks (smoke run)

The real code runs: pacing and assignment (`dialer.runtime.pacing.pace`), dispatch,
the staff presence services, the last check when the staff leg answers
(`staff_leg_answered`), the Twilio agent-first backend placing the staff leg
and adding the contact to the conference (`dialer.backends.twilio_agent`),
outcomes through `attempt_event_apply`, and for preview the offer, take, dial
and outcome services staff use from "My calls". The provider is simulated in
this process: a fake Twilio client records each request, and the script plays
what Twilio would report back, at simulated times (time-machine moves the
clock from event to event; nothing sleeps).

The mix (per task, the same in both modes): 35% a person answers after 5-20 s
and talks 60-300 s; 40% no answer (rings the full ring time); 15% an answering
machine (answers after 5-20 s; detected 3 s later by AMD, 12 s later by ear in
preview); 10% busy (3 s). Staff answer their own leg in 4 s, wrap up 30 s after
a conversation; in preview they spend 20 s reading and dialling by hand, and
5 s logging a call that reached nobody. Callbacks arrive at random (uniformly)
over a span that loads the staff at 90% of their agent-first capacity; each is
tried once. Figures:
- `abandonment_rate`: abandoned over calls answered by a person (the 30-day rate
  of `dialer.runtime.abandonment`, over this run);
- `staff_utilization`: the share of the staff's available time spent on a call
  (agent-first: from answering their leg to the call's end; preview: from the
  dial to the call's end), available time running from the first arrival to
  the last call's end;
- `calls_per_staff_hour`: calls made (contact dialled) per staff member per hour;
- `callback_wait_p95_s`: from the callback's arrival to its contact being dialled.
The same figures with a `preview_` prefix for preview dialling. Everything runs
in a throw-away database (`bench_agents_<pid>`, created, migrated and dropped).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.agents_sim import (  # noqa: E402
    LOAD,
    MIX,
    PREVIEW_DIAL_S,
    PREVIEW_LOG_S,
    STAFF_ANSWER_S,
    START,
    WRAP_UP_S,
    Call,
    Event,
    Figures,
    Sim,
    SimTwilio,
    agent_first_call_s,
    calls_sampled,
    mean_engaged_s,
    preview_call_s,
)
from bench.decide import machine  # noqa: E402


def _setup(slug: str, backend: str, staff_n: int) -> tuple[Any, Any, list[Any]]:
    from datetime import time as clock

    from django.contrib.auth.models import User

    from audit.actors import actor_system
    from campaigns.models import ALL_DAYS
    from campaigns.services import program_create, queue_create

    actor = actor_system("bench")
    program = program_create(
        slug=slug,
        legal_name=slug.title(),
        state="NY",
        timezone="America/New_York",
        neutral_name="Harbor Group",
        caller_id_number="+12125550100",
        actor=actor,
    )
    program.telephony_backend = backend
    program.save(update_fields=["telephony_backend"])
    queue = queue_create(
        program=program,
        slug="callbacks",
        name="Callbacks",
        purpose="callback",
        script="Hello, returning your call.",
        actor=actor,
        days=ALL_DAYS,
        window_start=clock(9),
        window_end=clock(20),
        max_attempts=1,
    )
    staff = []
    for i in range(staff_n):
        user = User.objects.create_user(username=f"{slug}-staff-{i}", is_staff=True)
        program.members.add(user)
        staff.append(user)
    return program, queue, staff


def _arrive(queue: Any, index: int, base: int) -> int:
    from django.utils import timezone

    from bench.seed import due_callbacks_create
    from campaigns.models import Contact

    now = timezone.now()
    number = f"+1212{200 + (base + index) // 10_000}{(base + index) % 10_000:04d}"
    [task] = due_callbacks_create(
        queue=queue,
        contacts=[Contact(program=queue.program, state="NY", postal_code="10001")],
        numbers=[number],
        requested_at=now,
        due_at=now,
    )
    return int(task.pk)


def _keep_pages_open() -> None:
    """Every staff member's "My calls" is open: their presence is seen (the page's heartbeat)."""
    from django.utils import timezone

    from dialer.models import StaffPresence

    StaffPresence.objects.update(seen_at=timezone.now())


def _abandonment(queue: Any, end_s: float) -> float:
    from dialer.runtime.abandonment import abandonment_rate

    return abandonment_rate(queue_id=queue.pk, at=START + timedelta(seconds=end_s + 1)).rate


def run_agent_first(staff_n: int, calls: list[Call], arrivals: list[float]) -> Figures:
    import dialer.backends.twilio as twilio_module
    from dialer.acts.agent_first import staff_leg_answered
    from dialer.backends.events import CallEvent, attempt_event_apply
    from dialer.backends.twilio_agent import contact_leg_add
    from dialer.presence import presence_set
    from dialer.runtime.pacing import pace

    sim_twilio = SimTwilio()
    twilio_module.twilio_client = lambda: sim_twilio  # the provider, simulated
    ring_s = float(max(15, settings.TELEPHONY_RING_SECONDS))
    figures = Figures()
    with time_machine.travel(START, tick=False) as traveller:
        program, queue, staff = _setup("agent-first", "twilio", staff_n)
        for i, user in enumerate(staff):
            presence_set(user=user, state="available", answer_at=f"+1646555{i:04d}", now=START)
        sim = Sim(traveller)
        arrived: dict[int, float] = {}
        answered_at: dict[int, float] = {}
        call_of: dict[int, Call] = {}

        def pace_now() -> None:
            _keep_pages_open()
            for paced in pace(program_ids=[program.pk]):
                if paced.status == "placed" and paced.attempt_id is not None:
                    sim.at(sim.now_s + STAFF_ANSWER_S, "staff_answer", paced)

        def handle(event: Event) -> None:
            from django.utils import timezone

            if event.kind == "arrive":
                index = event.data
                task_id = _arrive(queue, index, 0)
                arrived[task_id] = sim.now_s
                call_of[task_id] = calls[index]
                pace_now()
            elif event.kind == "staff_answer":
                paced = event.data
                answer = staff_leg_answered(attempt_id=paced.attempt_id, now=timezone.now())
                if answer.leg is None:
                    pace_now()
                    return
                contact_leg_add(sim_twilio, answer.leg)
                figures.dialled += 1
                figures.waits.append(sim.now_s - arrived[paced.task_id])
                answered_at[paced.attempt_id] = sim.now_s
                call = call_of[paced.task_id]
                sim.at(sim.now_s + agent_first_call_s(call, ring_s), "end", (paced, call))
            elif event.kind == "end":
                paced, call = event.data
                on_call = sim.now_s - answered_at[paced.attempt_id]
                attempt_event_apply(
                    attempt_id=paced.attempt_id,
                    event={
                        "human": CallEvent.COMPLETED,
                        "machine": CallEvent.COMPLETED,
                        "no_answer": CallEvent.NO_ANSWER,
                        "busy": CallEvent.BUSY,
                    }[call.kind],
                    actor="system:bench",
                    duration_seconds=round(call.talk_s) if call.kind == "human" else None,
                    machine=call.kind == "machine",
                )
                figures.end_s = max(figures.end_s, sim.now_s)
                if call.kind == "human":
                    user = next(u for u in staff if u.pk == paced.user_id)
                    presence_set(user=user, state="wrap_up", now=timezone.now())
                    sim.at(sim.now_s + WRAP_UP_S, "ready", user)
                    figures.on_call_s += on_call + WRAP_UP_S
                else:
                    figures.on_call_s += on_call
                    pace_now()
            elif event.kind == "ready":
                presence_set(user=event.data, state="available", now=timezone.now())
                pace_now()

        for index, at in enumerate(arrivals):
            sim.at(at, "arrive", index)
        sim.run(handle)
        figures.abandonment = _abandonment(queue, figures.end_s)
    return figures


def run_preview(staff_n: int, calls: list[Call], arrivals: list[float]) -> Figures:
    from dialer.acts.outcomes import attempt_outcome_record
    from dialer.backends.events import CallEvent, outcome_of
    from dialer.runtime.dispatch import dispatch_task
    from dialer.runtime.preview import preview_dial, preview_take_next

    ring_s = float(max(15, settings.TELEPHONY_RING_SECONDS))
    figures = Figures()
    with time_machine.travel(START, tick=False) as traveller:
        _, queue, staff = _setup("preview", "preview", staff_n)
        sim = Sim(traveller)
        idle: list[Any] = list(staff)
        arrived: dict[int, float] = {}
        call_of: dict[int, Call] = {}
        dialled_at: dict[int, float] = {}

        def take(user: Any) -> None:
            attempt = preview_take_next(user=user)
            if attempt is None:
                idle.append(user)
                return
            sim.at(sim.now_s + PREVIEW_DIAL_S, "dial", (user, attempt.pk, attempt.task_id))

        def handle(event: Event) -> None:
            if event.kind == "arrive":
                index = event.data
                task_id = _arrive(queue, index, 100_000)
                arrived[task_id] = sim.now_s
                call_of[task_id] = calls[index]
                dispatch_task(task_id=task_id)  # offered in "My calls" (on commit, as the API does)
                if idle:
                    take(idle.pop(0))
            elif event.kind == "dial":
                user, attempt_id, task_id = event.data
                in_hand = preview_dial(user=user, attempt_id=attempt_id)
                if in_hand.attempt is None:
                    take(user)
                    return
                figures.dialled += 1
                figures.waits.append(sim.now_s - arrived[task_id])
                dialled_at[attempt_id] = sim.now_s
                call = call_of[task_id]
                sim.at(sim.now_s + preview_call_s(call, ring_s), "end", (user, attempt_id, call))
            elif event.kind == "end":
                user, attempt_id, call = event.data
                figures.on_call_s += sim.now_s - dialled_at[attempt_id]
                figures.end_s = max(figures.end_s, sim.now_s)
                event_of = {
                    "human": CallEvent.COMPLETED,
                    "machine": CallEvent.COMPLETED,
                    "no_answer": CallEvent.NO_ANSWER,
                    "busy": CallEvent.BUSY,
                }[call.kind]
                attempt_outcome_record(
                    attempt_id=attempt_id,
                    outcome=outcome_of(event_of, machine=call.kind == "machine"),
                    actor="system:bench",
                )
                after = WRAP_UP_S if call.kind == "human" else PREVIEW_LOG_S
                sim.at(sim.now_s + after, "free", user)
            elif event.kind == "free":
                take(event.data)

        for index, at in enumerate(arrivals):
            sim.at(at, "arrive", index)
        sim.run(handle)
        figures.abandonment = _abandonment(queue, figures.end_s)
    return figures


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report(prefix: str, figures: Figures, staff_n: int, first_s: float) -> None:
    span_s = max(figures.end_s - first_s, 1.0)
    print(f"{prefix}abandonment_rate: {figures.abandonment:.4f}")
    print(f"{prefix}staff_utilization: {figures.on_call_s / (staff_n * span_s):.3f}")
    print(f"{prefix}calls_per_staff_hour: {figures.dialled / staff_n / (span_s / 3600):.1f} /h")
    print(f"{prefix}callback_wait_p95_s: {_quantile(figures.waits, 0.95):.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 staff, 150 callbacks")
    parser.add_argument("--staff", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    staff_n = args.staff or (4 if args.quick else 20)
    tasks = args.tasks or (150 if args.quick else 5_000)

    print(machine())
    logging.disable(logging.WARNING)  # a line per call would drown the figures
    settings.TELEPHONY_PUBLIC_URL = settings.TELEPHONY_PUBLIC_URL or "https://bench.invalid"
    ring_s = float(max(15, settings.TELEPHONY_RING_SECONDS))
    rng = random.Random(args.seed)
    calls = calls_sampled(tasks, rng)
    rate = LOAD * staff_n / mean_engaged_s(ring_s)  # arrivals per second
    span = tasks / rate
    arrivals = sorted(rng.uniform(0, span) for _ in range(tasks))
    mix = ", ".join(f"{kind} {share:.0%}" for kind, share in MIX)
    print(
        f"{staff_n} staff, {tasks} callbacks arriving over {span / 3600:.1f} h"
        f" (load {LOAD:.0%}); mix: {mix}"
    )

    import dialer.presence

    # Pacing runs here when the simulation says so, not through Celery messages on commit.
    dialer.presence.pace_on_commit = lambda **kwargs: None
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_agents_{os.getpid()}"
    creation = connection.creation
    original = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        agent_first = run_agent_first(staff_n, calls, arrivals)
        preview = run_preview(staff_n, calls, arrivals)
    finally:
        creation.destroy_test_db(original, verbosity=0)
    print(
        f"agent-first: {agent_first.dialled} dialled in {agent_first.end_s / 3600:.2f} h;"
        f" preview: {preview.dialled} dialled in {preview.end_s / 3600:.2f} h"
    )
    report("", agent_first, staff_n, arrivals[0])
    report("preview_", preview, staff_n, arrivals[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
