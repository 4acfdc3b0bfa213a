"""The appointments CSV import: whole file checked first, a report per row, big files on bulk."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Purpose, Queue
from config.celery import app
from dialer.acts import appointment_import as module
from dialer.acts.appointment_import import appointments_import_submit
from dialer.models import Appointment, AppointmentImport, CallTask
from tests.conftest import SYSTEM, Portfolio, make_queue


@pytest.fixture
def reminders(portfolio: Portfolio) -> Queue:
    return make_queue(portfolio.program_a, Purpose.REMINDER, script="A reminder of your visit.")


def _iso(days: float) -> str:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


def _file(*rows: str) -> str:
    return "external_id,contact,starts_at\n" + "\n".join(rows) + "\n"


def _upload(client: Client, queue: Queue, text: str) -> Any:
    upload = SimpleUploadedFile("appointments.csv", text.encode(), content_type="text/csv")
    return client.post("/admin/dialer/appointmentimport/add/", {"queue": queue.pk, "file": upload})


@pytest.mark.django_db
class TestAppointmentImport:
    def test_a_manager_imports_a_file_and_reads_each_rows_result(
        self, portfolio: Portfolio, reminders: Queue
    ) -> None:
        client = Client()
        client.force_login(portfolio.manager_a)
        response = _upload(
            client, reminders, _file(f"EMR-1,A-1,{_iso(3)}", f"EMR-2,A-1,{_iso(-1)}")
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        run = AppointmentImport.objects.get()
        assert run.done and run.report["summary"] == {
            "rows": 2,
            "queued": 1,
            "not_queued": 1,
            "errors": 0,
        }
        by_id = {r["external_id"]: r for r in run.report["rows"]}
        assert by_id["EMR-1"]["status"] == "queued"
        assert "passed" in by_id["EMR-2"]["detail"]
        task = CallTask.objects.get(queue=reminders)
        assert task.origin == "import" and Appointment.objects.count() == 2
        assert AuditEvent.objects.filter(action="appointment_import.submitted").exists()
        page = client.get(f"/admin/dialer/appointmentimport/{run.pk}/change/")
        assert page.status_code == 200 and "EMR-2" in page.content.decode()

    def test_one_bad_row_refuses_the_whole_file_and_names_it(
        self, portfolio: Portfolio, reminders: Queue
    ) -> None:
        client = Client()
        client.force_login(portfolio.manager_a)
        response = _upload(
            client,
            reminders,
            _file(f"EMR-1,A-1,{_iso(3)}", "EMR-2,A-1,tomorrow", f"EMR-3,NOBODY,{_iso(3)}"),
        )
        text = response.content.decode()
        assert response.status_code == 200
        assert "Row 3, starts_at" in text and "Row 4, contact" in text
        assert Appointment.objects.count() == 0 and CallTask.objects.count() == 0
        assert AppointmentImport.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_bulk_queue_imports_a_large_file(
    portfolio: Portfolio, reminders: Queue, monkeypatch: Any
) -> None:
    monkeypatch.setattr(module, "INLINE_MAX_ROWS", 1)  # two rows count as "large" here
    text = _file(f"EMR-1,A-1,{_iso(3)}", f"EMR-2,A-1,{_iso(4)}")
    with start_worker(app, queues=["bulk"], perform_ping_check=False, shutdown_timeout=10):
        run, errors = appointments_import_submit(queue=reminders, data=text, actor=SYSTEM)
        assert run is not None and not errors and not run.done
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not run.done:
            time.sleep(0.1)
            run.refresh_from_db()
    assert run.done, run.report
    # One open reminder per number and queue: the second appointment says so.
    assert run.report["summary"]["queued"] == 1 and run.report["summary"]["not_queued"] == 1
    assert run.content is None
