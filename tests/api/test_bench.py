"""bench/api.py --quick runs under granian, prints every figure BENCH.md names with no
failed request, and leaves no database behind."""

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
    "eligibility_rps",
    "eligibility_p50_ms",
    "eligibility_p99_ms",
    "callbacks_rps",
    "callbacks_p99_ms",
)


@pytest.mark.slow
def test_the_quick_bench_runs_and_cleans_up(db: object) -> None:
    url = _database_url()
    done = subprocess.run(
        [sys.executable, "bench/api.py", "--quick"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("machine: cores=")
    figures = dict(line.split(": ", 1) for line in lines[2:] if not line.startswith(" "))
    assert set(FIGURES) <= figures.keys()
    assert figures["eligibility_errors"] == "0"
    assert figures["callbacks_errors"] == "0"
    assert float(figures["eligibility_rps"].split()[0]) > 0
    with psycopg.connect(url) as conn:
        name = conn.info.dbname
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [f"test_{name}"])
        assert left.fetchone() == (0,)
