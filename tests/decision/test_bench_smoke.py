"""The decision benchmark runs (`--quick`) and prints its figures the BENCH.md way."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "decide.py"


@pytest.mark.slow
def test_the_quick_run_prints_the_machine_then_the_figures():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"machine: cores=\d+ python=[\d.]+ postgresql=n/a", lines[0])
    assert re.search(r"^tasks: 1000 ", done.stdout, re.MULTILINE)
    assert re.search(r"^pure_decisions_per_s: \d+ /s$", done.stdout, re.MULTILINE)
