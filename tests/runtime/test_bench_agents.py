"""The agent-first benchmark runs (`--quick`) and prints its figures the BENCH.md way: agent-first
pacing never abandons a call, and preview figures come from the same run.

It needs what `make bench` has: PostgreSQL (it makes and drops its own database); about 30 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "agents.py"
FIGURES = ("abandonment_rate", "staff_utilization", "calls_per_staff_hour", "callback_wait_p95_s")


@pytest.mark.slow
def test_the_quick_run_prints_the_machine_then_the_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--tasks", "60"],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"machine: cores=\d+ python=[\d.]+ postgresql=\S+", lines[0])
    assert "agent-first: 60 dialled" in done.stdout and "preview: 60 dialled" in done.stdout
    values = {}
    for prefix in ("", "preview_"):
        for name in FIGURES:
            found = re.search(rf"^{prefix}{name}: ([\d.]+)", done.stdout, re.MULTILINE)
            assert found, f"{prefix}{name} missing:\n{done.stdout}"
            values[prefix + name] = float(found.group(1))
    assert values["abandonment_rate"] == 0.0  # a live answer never waits for a staff member
    assert 0.0 < values["staff_utilization"] <= 1.0
    assert 0.0 < values["preview_staff_utilization"] <= 1.0
    assert values["calls_per_staff_hour"] > 0 and values["preview_calls_per_staff_hour"] > 0
