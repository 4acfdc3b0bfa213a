"""Across processes: a load killed mid-COPY; the per-process copy of the internal list."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from django.conf import settings
from django.db import connection

from audit.actors import actor_system
from dnc.models import InternalDncEntry, RegistryCoverage, RegistryLoad, RemovalReason
from dnc.registry.storage import current_version, partitions_prune
from dnc.selectors import dnc_status, dnc_status_many
from dnc.services import internal_dnc_add, internal_dnc_remove
from tests.dnc.conftest import load, write

SYSTEM = actor_system("tests")
ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "dnc-kill-test"


def _database_url() -> str:
    """DATABASE_URL pointed at the test database, keeping its host, port or socket directory."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{settings.DATABASES['default']['NAME']}"))


def _wait(query: str, want: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query, [APP_NAME])
            got = cursor.fetchone()[0]
        if want(got):
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting on: {query}")


@pytest.fixture
def clean_registry(transactional_db: Any) -> Any:
    yield
    RegistryCoverage.objects.all().delete()
    partitions_prune()


def test_a_load_killed_mid_copy_leaves_the_previous_snapshot(
    clean_registry: Any, tmp_path: Path
) -> None:
    load("national", write(tmp_path / "old.txt", ["2125550101", "3055550101"]))
    generation = current_version(connection.cursor()).generation
    big = tmp_path / "212.txt"
    keys = 2122000000 + np.arange(3_000_000, dtype=np.int64) * 2
    lines = np.full((len(keys), 11), 10, np.uint8)
    lines[:, :10] = (keys[:, None] // 10 ** np.arange(9, -1, -1)) % 10 + 48
    big.write_bytes(lines.tobytes())
    env = {**os.environ, "DATABASE_URL": _database_url(), "PGAPPNAME": APP_NAME}
    env["DNC_INDEX_DIR"] = str(tmp_path / "index")
    loader = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "load_dnc_registry",
            "--source",
            "national",
            "--full",
            str(big),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(
            "SELECT coalesce(max(p.tuples_processed), 0) FROM pg_stat_progress_copy p"
            " JOIN pg_stat_activity a USING (pid) WHERE a.application_name = %s",
            lambda rows: rows > 100_000,
            60,
        )
        os.kill(loader.pid, signal.SIGKILL)
    finally:
        loader.wait(30)
    assert loader.returncode == -signal.SIGKILL
    _wait(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        lambda count: count == 0,
        30,
    )
    assert dnc_status(number_e164="+12125550101").national
    assert not dnc_status(number_e164="+12122000000").national
    assert RegistryLoad.objects.count() == 1
    assert current_version(connection.cursor()).generation == generation
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'dnc_regnum_%%' AND relkind = 'p'"
        )
        assert cursor.fetchone()[0] == 1


def test_the_process_copy_of_the_internal_list_follows_commits(transactional_db: Any) -> None:
    numbers = ["+13055550123", "+13055550124", "+13055550125"]

    def internal() -> list[bool]:
        found = dnc_status_many(numbers=numbers)
        return [found[n].internal for n in numbers]

    assert internal() == [False, False, False]
    first, _ = internal_dnc_add(
        number_e164=numbers[0], source="api", note="", actor=SYSTEM, program_id=None
    )
    assert internal() == [True, False, False]
    internal_dnc_add(number_e164=numbers[2], source="api", note="", actor=SYSTEM, program_id=None)
    internal_dnc_remove(
        entry_id=first.pk, reason=RemovalReason.CONSENT_GIVEN, note="", actor=SYSTEM
    )
    assert internal() == [False, False, True]
    # Another process removing an entry is seen the same way (by seq, not by who wrote it).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dnc_internaldncentry SET removed_at = now(), removed_by = 'x',"
            " removal_reason = 'other' WHERE removed_at IS NULL"
        )
    assert internal() == [False, False, False]
    assert InternalDncEntry.objects.count() == 2
