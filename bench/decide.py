"""Benchmark of the pure call decision: `decide_many` over synthetic, seeded tasks.

    python bench/decide.py            # 100,000 tasks
    python bench/decide.py --quick    # 1,000 tasks (smoke run)

Prints the machine on the first line, then one figure per line (BENCH.md):
`pure_decisions_per_s` is the median over repeats at a weekday afternoon, each
at a new instant (so the per-instant window caches start cold) with the
per-exchange, per-ZIP and holiday caches warm, as in a long-running worker;
`pure_decisions_after_hours_per_s` is the same at 20:30 in New York, where most
calls are refused and each needs its `next_allowed_at`;
`pure_decisions_cold_per_s` is the first run with every cache empty.
`build_facts(n, seed)` is reused by the database half of this benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time as timer
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zipcodes

from dialer.decision import (
    AttemptFact,
    ConsentFact,
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    TaskFacts,
    clear_caches,
    decide_many,
)
from dialer.decision.numbering import exchange_of

BENCH_AT = datetime(2026, 11, 18, 20, 30, tzinfo=UTC)  # a Wednesday, 15:30 in New York
AFTER_HOURS_AT = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)  # 20:30 in New York: most must wait
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def _area_codes(rng: random.Random) -> tuple[list[tuple[str, str]], list[str]]:
    """(area code, its state) for geographic US codes, and a few toll-free codes."""
    geographic: list[tuple[str, str]] = []
    for npa in range(201, 990):
        exchange = exchange_of(f"+1{npa}2345678")
        if exchange.valid and exchange.zones and len(exchange.states) == 1:
            geographic.append((str(npa), next(iter(exchange.states))))
    rng.shuffle(geographic)
    return geographic[:300], ["800", "888", "877"]


def _zips_by_state() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    rows: Callable[[], list[dict[str, Any]]] = zipcodes.list_all  # untyped upstream
    for row in rows():
        if row.get("timezone") and row.get("zip_code_type") == "STANDARD":
            found.setdefault(row["state"], []).append(row["zip_code"])
    return found


def build_facts(n: int, seed: int, at: datetime = BENCH_AT) -> list[TaskFacts]:
    """`n` synthetic tasks (seeded): mixed area codes, states, ZIPs, purposes and histories."""
    rng = random.Random(seed)
    codes, toll_free = _area_codes(rng)
    zips = _zips_by_state()
    states = sorted(zips)
    programs = [
        ProgramFacts(1, "FL", "America/New_York", time(8), time(20), EVERY_DAY, True),
        ProgramFacts(2, "AZ", "America/Phoenix", time(7), time(19), EVERY_DAY, True),
        ProgramFacts(3, "TX", "America/Chicago", time(8), time(18), WEEKDAYS | {5}, True),
        ProgramFacts(4, "CA", "America/Los_Angeles", time(9), time(21), EVERY_DAY, True),
    ]
    queues = {
        "callback": [
            QueueFacts(10, "callback", time(8), time(21), EVERY_DAY, 6, 30, True, False),
            QueueFacts(11, "callback", time(9), time(20), WEEKDAYS, 4, 60, True, False),
        ],
        "reminder": [
            QueueFacts(20, "reminder", time(9), time(19), EVERY_DAY, 3, 240, True, False),
        ],
        "reactivation": [
            QueueFacts(30, "reactivation", time(10), time(19), WEEKDAYS, 3, 1440, True, False),
            QueueFacts(31, "reactivation", time(9), time(20), EVERY_DAY, 5, 720, True, False),
        ],
    }
    fresh = (at - timedelta(days=5)).date()
    old = date(2026, 9, 1)
    facts: list[TaskFacts] = []
    for i in range(n):
        if rng.random() < 0.03:
            npa, npa_state = rng.choice(toll_free), None
        else:
            npa, npa_state = rng.choice(codes)
        e164 = f"+1{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        roll = rng.random()
        state = npa_state if roll < 0.75 else (rng.choice(states) if roll < 0.9 else None)
        zip_pool = zips.get(state or "", [])
        postal = rng.choice(zip_pool) if zip_pool and rng.random() < 0.7 else None
        purpose = rng.choices(["callback", "reminder", "reactivation"], [4, 3, 3])[0]
        queue = rng.choice(queues[purpose])
        program = rng.choice(programs)
        status = rng.choices(["none", "current", "former"], [6, 2, 2])[0]
        consents: list[ConsentFact] = []
        signed = at - timedelta(days=rng.randint(1, 300))
        if purpose == "reactivation" and rng.random() < 0.85:
            consents.append(
                ConsentFact(
                    i * 3,
                    "tcpa_written",
                    True,
                    frozenset({"reactivation"}),
                    signed,
                    None,
                    None,
                    frozenset(),
                )
            )
        if status != "none" and rng.random() < 0.85:
            revoked = signed + timedelta(days=1) if rng.random() < 0.05 else None
            consents.append(
                ConsentFact(
                    i * 3 + 1,
                    "part2",
                    False,
                    frozenset({purpose}),
                    signed,
                    None,
                    revoked,
                    frozenset({program.id}),
                )
            )
        attempts = tuple(
            AttemptFact(at - timedelta(minutes=rng.randint(30, 8 * 1440)), purpose, program.id)
            for _ in range(rng.choices([0, 1, 2, 3, 4], [5, 2, 1, 1, 1])[0])
        )
        attempts = tuple(sorted(attempts, key=lambda a: a.at, reverse=True))
        registry_date = fresh if rng.random() < 0.95 else old
        facts.append(
            TaskFacts(
                task_id=i,
                program=program,
                queue=queue,
                contact=ContactFacts(state, postal, status),
                number=NumberFacts(
                    e164 if rng.random() > 0.005 else None,
                    rng.choice(["mobile", "mobile", "landline", "unknown"]),
                    rng.random() < 0.9,
                ),
                dnc=DncFacts(
                    rng.random() < 0.02,
                    rng.random() < 0.1,
                    frozenset({state}) if state and rng.random() < 0.02 else frozenset(),
                ),
                registry=RegistryFacts(
                    registry_date,
                    {
                        s: registry_date
                        for s in (
                            "CO",
                            "FL",
                            "IN",
                            "LA",
                            "MA",
                            "MO",
                            "OK",
                            "PA",
                            "TN",
                            "TX",
                            "WY",
                            "MS",
                        )
                    },
                ),
                consents=tuple(consents),
                recent_attempts=attempts,
                attempts_made=len(attempts),
                last_attempt_at=attempts[0].at if attempts else None,
                callback_requested_at=at - timedelta(minutes=rng.randint(1, 3 * 1440))
                if purpose == "callback"
                else None,
                appointment_at=at + timedelta(hours=rng.randint(-5, 120))
                if purpose == "reminder"
                else None,
            )
        )
    return facts


def machine() -> str:
    return (
        f"machine: cores={os.cpu_count()} python={platform.python_version()} "
        f"postgresql={_postgres_version()}"
    )


def _postgres_version() -> str:
    """The server version behind DATABASE_URL (its `postgres` database if the named one is
    missing), or "n/a"."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "n/a"
    try:
        import psycopg
    except ImportError:
        return "n/a"
    for dbname in (None, "postgres"):
        try:
            conn = (
                psycopg.connect(url, connect_timeout=3)
                if dbname is None
                else psycopg.connect(url, connect_timeout=3, dbname=dbname)
            )
            with conn:
                row = conn.execute("SHOW server_version").fetchone()
                return str(row[0]).split()[0] if row else "n/a"
        except Exception:  # noqa: S112 - unreachable is an answer here, not an error
            continue
    return "n/a"


def _median_run(facts: list[TaskFacts], at: datetime, repeats: int) -> float:
    """Median seconds of `decide_many`, each repeat a minute later (cold per-instant caches)."""
    runs = []
    for k in range(1, repeats + 1):
        started = timer.perf_counter()
        decide_many(facts, at + timedelta(minutes=k))
        runs.append(timer.perf_counter() - started)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 tasks instead of 100,000")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    n = 1_000 if args.quick else 100_000
    repeats = args.repeats or (3 if args.quick else 5)

    print(machine())
    started = timer.perf_counter()
    facts = build_facts(n, args.seed)
    built_s = timer.perf_counter() - started

    clear_caches()
    started = timer.perf_counter()
    decisions = decide_many(facts, BENCH_AT)
    cold_s = timer.perf_counter() - started
    day_s = _median_run(facts, BENCH_AT, repeats)
    evening_s = _median_run(facts, AFTER_HOURS_AT, repeats)

    allowed = sum(d.allowed for d in decisions)
    codes = Counter(c for d in decisions for c in set(d.codes))
    late = decide_many(facts, AFTER_HOURS_AT)
    waiting = sum(1 for d in late if not d.allowed and d.next_allowed_at is not None)
    print(
        f"tasks: {n}  allowed: {allowed}  refused: {n - allowed}  (at {BENCH_AT:%Y-%m-%d %H:%M}Z)"
    )
    print("refusals by code: " + ", ".join(f"{c}={k}" for c, k in codes.most_common()))
    print(f"after hours ({AFTER_HOURS_AT:%H:%M}Z): {waiting} refused with a next_allowed_at")
    print(f"build_facts_s: {built_s:.2f} s")
    print(f"pure_decisions_cold_per_s: {n / cold_s:.0f} /s")
    print(f"pure_decisions_after_hours_per_s: {n / evening_s:.0f} /s")
    print(f"pure_decisions_per_s: {n / day_s:.0f} /s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
