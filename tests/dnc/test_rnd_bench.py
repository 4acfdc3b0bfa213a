"""bench/rnd.py --quick runs, prints its figures (BENCH.md) and leaves no database behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.dnc.test_across_processes import _database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quick_rnd_bench_runs_and_cleans_up(db: object) -> None:
    url = _database_url()
    done = subprocess.run(
        [sys.executable, "bench/rnd.py", "--quick"],
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
    figures = dict(line.split(": ", 1) for line in lines[1:] if not line.startswith("#"))
    assert float(figures["rnd_load_rows_per_s"].split()[0]) > 0
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%rndbench%'")
        assert left.fetchone() == (0,)
