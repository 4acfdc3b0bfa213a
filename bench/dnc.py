"""Benchmark of the do-not-call lists on a synthetic registry (seeded).

    python bench/dnc.py            # 20,000,000 registry numbers, 1,000,000 candidates
    python bench/dnc.py --quick    # 200,000 numbers, 50,000 candidates (smoke run)
    python bench/dnc.py --size 250000000   # the national registry's size

Runs against a scratch database created next to DATABASE_URL's (and dropped
at the end), with a scratch index directory, so it never touches real data.
Prints the machine on the first line, then one figure per line (BENCH.md):

  load_rows_per_s            full national load through `registry_load` (parse,
                             COPY, index, attach, swap), rows per second
  load_client_cpu_us_per_row / load_server_cpu_us_per_row   CPU time of this process
                             and of its PostgreSQL backend during that load, per row
                             (not counted: the backend of the second connection a big
                             load builds half its tables on)
  changes_apply_1m_s         a change list of 500k additions + 500k deletions, with
                             the index of the registry in force built (as the
                             load_dnc_registry command leaves it)
  index_build_s              the memory-mapped dense index, rebuilt from PostgreSQL
  registry_size / index_bytes   numbers in the registries after the changes; index file size
  bulk_scrub_numbers_per_s   `dnc_scrub_keys` on 1M candidate keys (internal list,
                             national and state registries), median of 5
  bulk_status_many_numbers_per_s   `dnc_status_many` on the same 1M as E.164
                             strings, answering a dict of DncStatus
  bulk_scrub_postgres_numbers_per_s  the same scrub from PostgreSQL alone
  bulk_scrub_roaring_numbers_per_s   the registries from pyroaring bitmaps per area code
  single_check_p50_ms / _p99_ms      `dnc_status` (what dispatch calls)
  single_check_postgres_p99_ms       its one-statement PostgreSQL-only form
  naive_orm_numbers_per_s    a per-number ORM `exists()` loop over the same lists
  speedup_vs_naive_orm       bulk_scrub_numbers_per_s / naive_orm_numbers_per_s
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.dnc_data import (
    AREA_SPAN,
    SEED,
    member,
    roaring_contains,
    roaring_from_postgres,
    synthetic_registry,
    write_changes,
    write_numbers,
)


def machine() -> str:
    return (
        f"machine: cores={os.cpu_count()} python={platform.python_version()} "
        f"postgresql={_server_version()}"
    )


def _server_version() -> str:
    import psycopg

    try:
        with psycopg.connect(_admin_url(), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]).split()[0] if row else "n/a"
    except Exception:
        return "n/a"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_url() -> str:
    return _with_database(os.environ["DATABASE_URL"], "postgres")


def figure(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    print(f"{name}: {text} {unit}", flush=True)


_STARTED = time.monotonic()


def note(text: str) -> None:
    print(f"# {text} [{time.monotonic() - _STARTED:.0f} s]", flush=True)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process of this machine (a PostgreSQL backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool, size: int | None) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit.actors import actor_system
    from common.crypto import keyed_hash
    from dnc import index as dense
    from dnc import selectors
    from dnc.index import _area_lines, index_build
    from dnc.keys import e164_from_key
    from dnc.models import InternalDncEntry, RegistryCoverage, RegistryNumber
    from dnc.registry.changes import load_changes
    from dnc.registry.load import RegistryInput, registry_load
    from dnc.registry.parse import LineMode
    from dnc.registry.storage import ADDED, area_tables
    from dnc.selectors import dnc_scrub_keys, dnc_status, dnc_status_many

    call_command("migrate", verbosity=0)
    actor = actor_system("bench")
    total = size or (200_000 if quick else 20_000_000)
    candidates_n = 50_000 if quick else 1_000_000
    changes_n = 20_000 if quick else 500_000
    rng = np.random.default_rng(SEED)
    work = Path(tempfile.mkdtemp(prefix="dnc-bench-"))
    try:
        # 500,000 numbers per area code, as in the national registry (40 at 20M).
        codes, registry = synthetic_registry(total, 8 if quick else max(40, total // 500_000), rng)
        files = []
        bounds = np.searchsorted(registry, np.append(codes, codes[-1] + 1) * AREA_SPAN)
        for index, code in enumerate(codes.tolist()):
            path = work / f"{code}.txt"
            write_numbers(path, registry[bounds[index] : bounds[index + 1]])
            files.append(path)
        state = np.sort(rng.choice(registry, len(registry) // 10, replace=False))
        write_numbers(work / "fl.txt", state)
        note(
            f"synthetic registry: {len(registry):,} numbers in {len(codes)} area codes;"
            f" state list {len(state):,}"
        )

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        server_cpu, client_cpu = _cpu_seconds(backend), time.process_time()
        started = time.perf_counter()
        result = registry_load(
            source="national",
            kind="full",
            inputs=[RegistryInput(p) for p in files],
            as_of=date.today(),
            actor=actor,
        )
        seconds = time.perf_counter() - started
        rows = result.load.rows_added
        figure("load_rows_per_s", rows / seconds, "/s")
        figure("load_client_cpu_us_per_row", 1e6 * (time.process_time() - client_cpu) / rows, "us")
        figure(
            "load_server_cpu_us_per_row", 1e6 * (_cpu_seconds(backend) - server_cpu) / rows, "us"
        )
        note(result.summary())
        registry_load(
            source="state:FL",
            kind="full",
            inputs=[RegistryInput(work / "fl.txt")],
            as_of=date.today(),
            actor=actor,
        )

        present = np.zeros(0, np.int64)
        deletes = rng.choice(registry, changes_n, replace=False)
        adds_pool = codes[rng.integers(0, len(codes), changes_n * 2)] * AREA_SPAN + rng.integers(
            2_000_000, 10_000_000, changes_n * 2
        )
        adds_pool = np.unique(adds_pool)
        adds = adds_pool[~member(registry, adds_pool)][:changes_n]
        rng.shuffle(adds)
        write_changes(work / "changes.txt", adds, deletes)
        started = time.perf_counter()
        index_build()
        note(f"index of the full lists built in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        changed = registry_load(
            source="national",
            kind="changes",
            inputs=[RegistryInput(work / "changes.txt", LineMode.MARKED)],
            as_of=date.today(),
            actor=actor,
        )
        figure(
            "changes_apply_1m_s" if not quick else "changes_apply_40k_s",
            time.perf_counter() - started,
            "s",
        )
        note(changed.summary())
        kept = np.ones(len(registry), np.bool_)
        kept[np.searchsorted(registry, deletes)] = False
        present = np.sort(np.concatenate([registry[kept], adds]))

        started = time.perf_counter()
        index_path, indexed = index_build()
        figure("index_build_s", time.perf_counter() - started, "s")
        assert indexed == len(present) + len(state)  # national and the state list
        figure("registry_size", len(present), "numbers")
        figure("index_bytes", index_path.stat().st_size, "B")

        # Candidates: a third listed, the rest unlisted numbers of the same and other area codes.
        listed = rng.choice(present, candidates_n // 3, replace=False)
        other = rng.integers(201, 990, candidates_n - len(listed)) * AREA_SPAN + rng.integers(
            2_000_000, 10_000_000, candidates_n - len(listed)
        )
        keys = np.concatenate([listed, other])
        rng.shuffle(keys)
        numbers = [e164_from_key(k) for k in keys.tolist()]
        internal_keys = rng.choice(keys, 2_000 if quick else 10_000, replace=False)
        InternalDncEntry.objects.bulk_create(
            InternalDncEntry(
                number=e164_from_key(k),
                number_hash=keyed_hash(e164_from_key(k)),
                source="bench",
                added_by=actor,
            )
            for k in internal_keys.tolist()
        )
        note("candidates and internal list ready")
        truth_national = member(present, keys)
        truth_internal = member(np.sort(internal_keys), keys)

        scrub = dnc_scrub_keys(keys=keys)  # warm: maps the index, reads the internal list
        assert scrub.engine == "index"
        assert np.array_equal(scrub.national, truth_national), "index disagrees with the data"
        assert np.array_equal(scrub.internal, truth_internal)
        assert np.array_equal(scrub.states["FL"], member(state, keys))
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            dnc_scrub_keys(keys=keys)
            runs.append(time.perf_counter() - started)
        bulk_rate = len(keys) / statistics.median(runs)
        figure("bulk_scrub_numbers_per_s", bulk_rate, "/s")

        runs = []
        for _ in range(3):
            started = time.perf_counter()
            statuses = dnc_status_many(numbers=numbers)
            runs.append(time.perf_counter() - started)
        assert all(
            statuses[n].national == t for n, t in zip(numbers, truth_national.tolist(), strict=True)
        )
        figure("bulk_status_many_numbers_per_s", len(numbers) / statistics.median(runs), "/s")

        sample = keys[: min(len(keys), 200_000)]
        started = time.perf_counter()
        by_postgres = dnc_scrub_keys(keys=sample, engine="postgres")
        figure(
            "bulk_scrub_postgres_numbers_per_s", len(sample) / (time.perf_counter() - started), "/s"
        )
        assert np.array_equal(by_postgres.national, truth_national[: len(sample)])

        note("scrubs done")
        roaring = roaring_from_postgres(connection, _area_lines, area_tables, load_changes)
        started = time.perf_counter()
        hits = roaring_contains(roaring["national"], keys)
        figure(
            "bulk_scrub_roaring_numbers_per_s", len(keys) / (time.perf_counter() - started), "/s"
        )
        assert np.array_equal(hits, truth_national)

        note("roaring done")
        singles = numbers[:: max(1, len(numbers) // (500 if quick else 5000))]
        for number in singles[:50]:
            dnc_status(number_e164=number)
        latencies = []
        for number in singles:
            started = time.perf_counter()
            dnc_status(number_e164=number)
            latencies.append(time.perf_counter() - started)
        figure("single_check_p50_ms", 1000 * float(np.percentile(latencies, 50)), "ms")
        figure("single_check_p99_ms", 1000 * float(np.percentile(latencies, 99)), "ms")
        latencies = []
        with connection.cursor() as cursor:
            for number in singles:
                key = int(number[2:])
                started = time.perf_counter()
                cursor.execute(selectors._ONE_FULL, [keyed_hash(number), key // AREA_SPAN, key])
                cursor.fetchone()
                latencies.append(time.perf_counter() - started)
        figure("single_check_postgres_p50_ms", 1000 * float(np.percentile(latencies, 50)), "ms")
        figure("single_check_postgres_p99_ms", 1000 * float(np.percentile(latencies, 99)), "ms")

        note("single checks done")
        loads: dict[int, list[int]] = {}
        for area, load_id in RegistryCoverage.objects.values_list("area_code", "load_id"):
            loads.setdefault(area, []).append(load_id)
        naive_n = 200 if quick else 2_000
        started = time.perf_counter()
        for number in numbers[:naive_n]:
            key = int(number[2:])
            InternalDncEntry.objects.filter(
                number_hash=keyed_hash(number), removed_at__isnull=True
            ).exists()
            for load_id in loads.get(key // AREA_SPAN, []) + loads.get(0, []):
                found = set(
                    RegistryNumber.objects.filter(
                        load_id=load_id, number__in=[key, -key, key + ADDED]
                    ).values_list("number", flat=True)
                )
                _ = (key in found and -key not in found) or key + ADDED in found
        naive_rate = naive_n / (time.perf_counter() - started)
        figure("naive_orm_numbers_per_s", naive_rate, "/s")
        figure("speedup_vs_naive_orm", bulk_rate / naive_rate, "x")
        dense._current = None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--size", type=int, default=None, help="registry numbers (20,000,000)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("DATABASE_URL is not set (make bench sets it)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    print(machine(), flush=True)

    import psycopg

    base = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "callorch"
    name = f"{base}_dncbench_{os.getpid()}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    index_dir = tempfile.mkdtemp(prefix="dnc-bench-index-")
    os.environ["DATABASE_URL"] = _with_database(os.environ["DATABASE_URL"], name)
    os.environ["DNC_INDEX_DIR"] = index_dir
    try:
        run(args.quick, args.size)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(index_dir, ignore_errors=True)
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
