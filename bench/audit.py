"""Audit writes under concurrency: writers appending events at once, then the sealer.

    python bench/audit.py            # 8 writers x 500 events, twice
    python bench/audit.py --quick    # 4 writers x 50 events, once

Runs against DATABASE_URL in a throw-away database (`test_<name>`), created, migrated
and dropped by the script.

1. `audit_append_per_s`: each writer calls `audit_record` in a transaction of its own,
   back to back.
2. `audit_append_in_request_per_s`: the same, with 2 ms more work in each transaction
   after the event (what a request does after its audit row before it commits).
3. `audit_seal_rows_per_s`: the sealer links everything written above into the chain.
4. `audit_append_p99_ms`: the 99th percentile of one `audit_record` call in step 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time as timer
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection, connections, transaction  # noqa: E402

from bench.decide import machine  # noqa: E402


def _writers(threads: int, events: int, hold_s: float) -> tuple[float, list[float]]:
    """Events per second over all writers, and each call's duration in seconds."""
    from audit.services import audit_record

    durations: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def write(worker: int) -> None:
        mine: list[float] = []
        try:
            start.wait()
            for i in range(events):
                with transaction.atomic():
                    began = timer.perf_counter()
                    audit_record(
                        actor="system:bench",
                        action="bench.event",
                        object_type="bench",
                        object_id=f"{worker}-{i}",
                        data={"worker": worker, "i": i},
                    )
                    mine.append(timer.perf_counter() - began)
                    if hold_s:
                        with connection.cursor() as cursor:
                            cursor.execute("SELECT pg_sleep(%s)", [hold_s])
        finally:
            connections.close_all()
        with lock:
            durations.extend(mine)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = timer.perf_counter()
    for w in workers:
        w.join()
    return threads * events / (timer.perf_counter() - began), durations


def _seal() -> tuple[int, float]:
    from audit.services import audit_seal

    began = timer.perf_counter()
    total = 0
    while sealed := audit_seal():
        total += sealed
    return total, timer.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args(argv)
    threads = args.threads or (4 if args.quick else 8)
    events = args.events or (50 if args.quick else 500)
    repeats = 1 if args.quick else 2
    print(machine())
    print(f"writers: {threads} x {events} events")

    creation = connection.creation
    test_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        plain, held, p99s, seals = [], [], [], []
        for _ in range(repeats):
            rate, _durations = _writers(threads, events, 0)
            plain.append(rate)
            rate, durations = _writers(threads, events, 0.002)
            held.append(rate)
            p99s.append(statistics.quantiles(durations, n=100)[98] * 1000)
            sealed, seconds = _seal()
            seals.append(sealed / seconds if seconds else 0.0)
            print(f"round: {plain[-1]:.0f} /s, {held[-1]:.0f} /s, sealed {sealed} rows")
        from audit.services import audit_verify

        breaks = list(audit_verify())
        print(f"verified: {len(breaks)} problem(s)")
        print(f"audit_append_per_s: {statistics.median(plain):.0f} /s")
        print(f"audit_append_in_request_per_s: {statistics.median(held):.0f} /s")
        print(f"audit_append_p99_ms: {statistics.median(p99s):.1f} ms")
        print(f"audit_seal_rows_per_s: {statistics.median(seals):.0f} /s")
        if breaks:
            return 1
    finally:
        connections.close_all()
        creation.destroy_test_db(test_db, verbosity=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
