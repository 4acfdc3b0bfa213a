"""The database half of the decision benchmark: load the facts of 100,000 due tasks from
PostgreSQL (tasks, contacts, DNC, registry freshness, consents, recent attempts) and decide
them, the way one planner tick does: with a national and a Florida list loaded and each
phone's registry answer kept (dialer.listings), so the tick decrypts no number.

    python bench/decide_db.py            # 100,000 tasks
    python bench/decide_db.py --quick    # 1,000 tasks

Runs against DATABASE_URL in a throw-away database (`test_<name>`), created, migrated
and dropped by the script. Prints `load_and_decide_100k_s` (median of the repeats; with
--quick the figure is for the smaller batch) and its parts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time as timer
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402

from bench.decide import machine  # noqa: E402

AT = datetime(2026, 11, 18, 20, 30, tzinfo=UTC)  # a Wednesday, 15:30 in New York


def seed(n: int, rng: random.Random) -> int:
    """One program, one callback queue, n contacts with one number and one due task each."""
    from audit.actors import actor_system
    from bench.seed import due_callbacks_create, registry_seed
    from campaigns.models import ALL_DAYS, Contact
    from campaigns.services import program_create, queue_create

    actor = actor_system("bench")
    program = program_create(slug="bench", legal_name="Bench", state="NY", actor=actor)
    queue = queue_create(
        program=program,
        slug="callbacks",
        name="Callbacks",
        purpose="callback",
        script="Hello.",
        actor=actor,
        days=ALL_DAYS,
    )
    area_codes = ["212", "305", "312", "415", "602", "713", "206", "303", "404", "617"]
    states = {
        "212": "NY",
        "305": "FL",
        "312": "IL",
        "415": "CA",
        "602": "AZ",
        "713": "TX",
        "206": "WA",
        "303": "CO",
        "404": "GA",
        "617": "MA",
    }
    numbers = set[str]()
    while len(numbers) < n:
        numbers.add(f"+1{rng.choice(area_codes)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
    ordered = sorted(numbers)
    registry_seed(rng, ordered)
    due_callbacks_create(
        queue=queue,
        contacts=[
            Contact(
                program=program,
                external_id=f"B{i}",
                first_name="Pat",
                last_name="Doe",
                state=states[e164[2:5]],
            )
            for i, e164 in enumerate(ordered)
        ],
        numbers=ordered,
        requested_at=AT - timedelta(minutes=5),
        due_at=AT - timedelta(minutes=1),
    )
    return queue.pk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.tasks or (1_000 if args.quick else 100_000)
    repeats = args.repeats or (2 if args.quick else 3)
    print(machine())

    from dialer.decision import decide_batch
    from dialer.rows import due_task_rows
    from dialer.selectors import task_facts_many
    from dnc.index import index_dir

    creation = connection.creation
    test_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = timer.perf_counter()
        queue_id = seed(n, random.Random(20261127))
        print(f"seeded {n} tasks in {timer.perf_counter() - started:.1f} s")
        loads, decides, totals = [], [], []
        for _ in range(repeats):
            started = timer.perf_counter()
            tasks = due_task_rows(queue_id=queue_id, now=AT, limit=n)
            facts = task_facts_many(tasks, at=AT)
            loaded = timer.perf_counter()
            decisions = decide_batch(facts, AT)
            done = timer.perf_counter()
            loads.append(loaded - started)
            decides.append(done - loaded)
            totals.append(done - started)
        allowed = sum(d.allowed for d in decisions)
        print(f"tasks: {len(tasks)}  allowed: {allowed}")
        print(f"load_facts_s: {statistics.median(loads):.2f} s")
        print(f"decide_s: {statistics.median(decides):.2f} s")
        name = "load_and_decide_100k_s" if n == 100_000 else f"load_and_decide_{n}_s"
        print(f"{name}: {statistics.median(totals):.2f} s")
    finally:
        shutil.rmtree(index_dir(), ignore_errors=True)
        creation.destroy_test_db(test_db, verbosity=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
