"""bench/dnc.py --quick runs, prints every figure BENCH.md names, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.dnc.test_across_processes import _database_url

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "load_rows_per_s",
    "bulk_scrub_numbers_per_s",
    "single_check_p50_ms",
    "single_check_p99_ms",
    "naive_orm_numbers_per_s",
    "speedup_vs_naive_orm",
)


@pytest.mark.slow
def test_the_quick_bench_runs_and_cleans_up(db: object) -> None:
    url = _database_url()
    done = subprocess.run(
        [sys.executable, "bench/dnc.py", "--quick"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("machine: cores=")
    names = {line.split(":")[0] for line in lines[1:] if not line.startswith("#")}
    assert set(FIGURES) <= names
    with psycopg.connect(url) as conn:
        name = conn.info.dbname
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", [f"{name}_dncbench_%"]
        )
        assert left.fetchone() == (0,)
