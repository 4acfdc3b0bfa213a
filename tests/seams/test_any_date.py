"""The suite passes at any date: the date-sensitive modules, run again a year ahead.

A test that mixes a fixed instant with the real clock passes until the calendar
reaches its fixed date, then fails for everyone. Here the modules that read the
clock (or store rows stamped by it) are run in a fresh pytest process with the
whole session moved `CLOCK_SHIFT_DAYS` ahead (see tests/conftest.py), on its own
test database, so such a test fails today instead of next year.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import CLOCK_SHIFT_DAYS

ROOT = Path(__file__).resolve().parents[2]
SHIFT_DAYS = 365

# The modules whose tests read the clock or rows stamped by it. Only in-process
# code is moved: a module that starts another process (a worker, a server, a
# user agent) cannot be shifted and stays out; the pure decision tests never
# read the clock and gain nothing here, nor does runtime/test_dispatch.py, which
# runs whole at a fixed instant and whose worker teardowns are slow.
DATE_SENSITIVE = (
    "tests/seams/test_any_date.py::test_the_session_clock_is_moved_when_asked",
    "tests/api/test_consents.py",
    "tests/api/test_eligibility_reads.py",
    "tests/api/test_endpoints.py",
    "tests/api/test_no_phi_in_logs.py",
    "tests/consent/test_alumni_import.py",
    "tests/consent/test_consent_admin.py",
    "tests/consent/test_consent_facts.py",
    "tests/consent/test_disclosures.py",
    "tests/consent/test_no_phi.py",
    "tests/consent/test_part2_consent.py",
    "tests/consent/test_revocation.py",
    "tests/dnc/test_admin.py",
    "tests/dnc/test_internal_list.py",
    "tests/dnc/test_keys_and_freshness.py",
    "tests/dnc/test_registry_load.py",
    "tests/reports/test_retention.py",
    "tests/runtime/test_abandonment.py",
    "tests/runtime/test_health.py",
    "tests/runtime/test_outcomes.py",
    "tests/runtime/test_planner.py",
    "tests/runtime/test_preview.py",
    "tests/runtime/test_schedules.py",
    "tests/telephony/test_twilio.py",
)


def _own_database(url: str) -> str:
    """The same server, another database name: the shifted run's test database
    (`test_<name>`) cannot collide with this run's."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "callorch"
    return urlunsplit(parts._replace(path=f"/{name}_any_date"))


def test_the_session_clock_is_moved_when_asked() -> None:
    hatch = time_machine.escape_hatch
    real = hatch.datetime.datetime.now(UTC) if hatch.is_travelling() else datetime.now(UTC)
    shift = timedelta(days=int(os.environ.get(CLOCK_SHIFT_DAYS) or 0))
    assert abs(timezone.now() - (real + shift)) < timedelta(minutes=10)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_date_sensitive_modules_pass_a_year_from_today() -> None:
    env = {
        **os.environ,
        CLOCK_SHIFT_DAYS: str(SHIFT_DAYS),
        "DATABASE_URL": _own_database(os.environ["DATABASE_URL"]),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *DATE_SENSITIVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=570,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
