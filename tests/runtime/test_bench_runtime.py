"""The runtime benchmark runs (`--quick`, smaller still) and prints its figures the BENCH.md way.

It needs what `make bench` has: PostgreSQL (it makes and drops its own
database) and Redis, and starts two worker processes; about 20 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "runtime.py"


@pytest.mark.slow
def test_the_quick_run_prints_the_machine_then_the_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--callbacks",
            "5",
            "--tasks",
            "600",
            "--big-tasks",
            "400",
            "--queues",
            "2",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"machine: cores=\d+ python=[\d.]+ postgresql=\S+", lines[0])
    assert "planner tick: 600 due tasks, 600 allowed and handed over" in done.stdout
    p50 = re.search(r"^speed_to_lead_p50_s: ([\d.]+) s$", done.stdout, re.MULTILINE)
    p95 = re.search(r"^speed_to_lead_p95_s: ([\d.]+) s$", done.stdout, re.MULTILINE)
    assert p50 and p95
    assert float(p50.group(1)) <= float(p95.group(1)) < 1.0  # speed to lead: under a second
    assert re.search(r"^planner_600_s: [\d.]+ s$", done.stdout, re.MULTILINE)
    # The portfolio tick: a two-process worker plans both queues, all handed over.
    assert "400 due tasks in 2 queues, two worker processes, 400 handed over" in done.stdout
    assert re.search(r"^planner_400x2_s: [\d.]+ s$", done.stdout, re.MULTILINE)
