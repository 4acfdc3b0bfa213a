"""A large alumni list, end to end through a real Celery worker on the `bulk` queue."""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from dialer.acts import alumni_import as module
from dialer.acts.alumni_import import alumni_import_submit
from dialer.models import CallTask
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import part2, written

FILE = (
    "external_id,phone,patient_status\n"
    "ALUM-1,305-555-0150,former\n"
    "AL-2,305-555-0166,former\n"
    "AL-3,305-555-0167,none\n"
)


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_bulk_queue_imports_a_large_file(
    portfolio: Portfolio, alum: Any, monkeypatch: Any
) -> None:
    written(alum)
    part2(alum)
    monkeypatch.setattr(module, "INLINE_MAX_ROWS", 1)  # three rows count as "large" here
    with start_worker(app, queues=["bulk"], perform_ping_check=False, shutdown_timeout=10):
        run, _ = alumni_import_submit(queue=portfolio.reactivation_a, data=FILE, actor=SYSTEM)
        assert run is not None and run.status == "queued"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != "queued" and run.status != "running":
                break
            time.sleep(0.1)
    assert run.status == "done", run.report
    assert run.report["summary"]["queued"] == 1
    assert run.content is None
    assert list(CallTask.objects.filter(origin="import").values_list("contact_id", flat=True)) == [
        alum.pk
    ]
