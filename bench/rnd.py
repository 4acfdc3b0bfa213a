"""Benchmark of loading Reassigned Numbers Database results (seeded, synthetic).

    python bench/rnd.py            # a 1,000,000-line results file (target: under 30 s)
    python bench/rnd.py --quick    # 20,000 lines (smoke run)

Runs against a scratch database created next to DATABASE_URL's (and dropped at
the end), so it never touches real data. Prints the machine on the first line,
then one figure per line (BENCH.md):

  rnd_load_rows_per_s   `load_rnd_results` on the file: parse, hash, COPY, merge
  rnd_load_1m_s         the same load's wall time (rnd_load_20k_s with --quick)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.dnc import _admin_url, _with_database, figure, machine, note

SEED = 20261203


def write_results(path: Path, lines: int, rng: np.random.Generator) -> None:
    """`number,consent_date,result,queried_at` lines: about 4% yes, as vendors report."""
    # Area codes and exchanges start with 2-9.
    numbers = (
        rng.integers(200, 1000, lines) * 10_000_000
        + rng.integers(200, 1000, lines) * 10_000
        + rng.integers(0, 10_000, lines)
    )
    days = rng.integers(0, 1400, lines)
    picks = rng.choice(3, lines, p=[0.04, 0.90, 0.06])
    words = ("yes", "no", "no_data")
    base = np.datetime64("2021-02-01")
    queried = "2026-11-20T06:00:00+00:00"
    with path.open("w") as out:
        out.write("number,consent_date,result,queried_at\n")
        out.writelines(
            f"{n},{base + d},{words[p]},{queried}\n"
            for n, d, p in zip(numbers.tolist(), days.tolist(), picks.tolist(), strict=True)
        )


def run(quick: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from audit.actors import actor_system
    from dnc.rnd.load import rnd_results_load

    call_command("migrate", verbosity=0)
    lines = 20_000 if quick else 1_000_000
    work = Path(tempfile.mkdtemp(prefix="rnd-bench-"))
    try:
        path = work / "results.csv"
        write_results(path, lines, np.random.default_rng(SEED))
        note(f"{path.stat().st_size / 1e6:,.0f} MB results file written")
        started = time.monotonic()
        result = rnd_results_load(path=path, actor=actor_system("bench"))
        seconds = time.monotonic() - started
        note(result.summary())
        figure("rnd_load_rows_per_s", result.rows / seconds, "/s")
        figure("rnd_load_20k_s" if quick else "rnd_load_1m_s", seconds, "s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("DATABASE_URL is not set (make bench sets it)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    print(machine(), flush=True)

    import psycopg

    base = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "callorch"
    name = f"{base}_rndbench_{os.getpid()}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = _with_database(os.environ["DATABASE_URL"], name)
    try:
        run(args.quick)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
