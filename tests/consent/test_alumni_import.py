"""Alumni lists: only consented rows are queued, the others say why; a bad file changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from celery import current_app

from audit.models import AuditEvent
from campaigns.models import Contact, PhoneNumber
from campaigns.services import PhoneInput, contact_create
from consent.models import AlumniImport
from dialer.acts import alumni_import as module
from dialer.acts.alumni_import import alumni_import, alumni_import_run, alumni_import_submit
from dialer.models import CallTask
from dialer.services import task_create
from dialer.tasks import bulk_alumni_import
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import part2, written

HEADER = "external_id,first_name,last_name,phone,patient_status,provided_by_patient\n"


def alum(portfolio: Portfolio, external_id: str, number: str, status: str = "former") -> Contact:
    return contact_create(
        program=portfolio.program_a,
        external_id=external_id,
        patient_status=status,
        phones=[PhoneInput(number, "mobile", provided_by_patient=True)],
        actor=SYSTEM,
    )


def counts() -> tuple[int, int, int, int]:
    return (
        Contact.objects.count(),
        PhoneNumber.objects.count(),
        CallTask.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def mixed(portfolio: Portfolio) -> dict[str, Any]:
    """Existing contacts in every consent situation, and the file that lists them."""
    ok = alum(portfolio, "AL-OK", "+13055550161")
    written(ok, number="+13055550161")
    part2(ok)
    other_program = alum(portfolio, "AL-B", "+13055550162")
    written(other_program, number="+13055550162")
    part2(other_program, recipients=[portfolio.program_b.slug])
    no_written = alum(portfolio, "AL-NW", "+13055550163")
    part2(no_written)
    queued_before = alum(portfolio, "AL-DUP", "+13055550164")
    written(queued_before, number="+13055550164")
    part2(queued_before)
    task_create(
        contact=queued_before,
        phone=queued_before.phones.get(),
        queue=portfolio.reactivation_a,
        origin="admin",
        actor=SYSTEM,
    )
    prospect = alum(portfolio, "PR-1", "+13055550165", status="none")
    written(prospect, number="+13055550165")
    data = (
        HEADER
        + "AL-OK,,,305-555-0161,former,yes\n"
        + "AL-NEW,Nova,Newcomb,(305) 555-0166,former,true\n"
        + "AL-B,,,3055550162,former,\n"
        + "AL-NW,,,305.555.0163,,\n"
        + "AL-DUP,,,+1 305 555 0164,former,\n"
        + "PR-1,,,305-555-0165,none,false\n"
        + "PR-1X,Pat,Prospect,305-555-0167,none,false\n"
    )
    return {"data": data, "ok": ok, "prospect": prospect}


@pytest.mark.django_db
def test_it_queues_only_the_consented_rows_and_explains_every_other(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    report = alumni_import(queue=portfolio.reactivation_a, data=mixed["data"], actor=SYSTEM)
    assert report.ok
    by_id = {o.external_id: o for o in report.rows}
    assert [o.row for o in report.rows] == [2, 3, 4, 5, 6, 7, 8]
    assert (by_id["AL-OK"].status, by_id["AL-OK"].codes) == ("queued", ())
    assert (by_id["PR-1"].status, by_id["PR-1"].codes) == ("queued", ())
    assert by_id["AL-NEW"].status == "not_queued"
    assert by_id["AL-NEW"].codes == ("part2_consent_missing", "consent_missing")
    assert by_id["AL-NEW"].contact_created
    assert by_id["AL-B"].codes == ("part2_consent_missing",)
    assert "no Part 2 consent names this program" in by_id["AL-B"].detail
    assert by_id["AL-NW"].codes == ("consent_missing",)
    assert "written consent" in by_id["AL-NW"].detail
    assert by_id["AL-DUP"].status == "already_queued" and by_id["AL-DUP"].task_id is not None
    assert by_id["PR-1X"].codes == ("consent_missing",)

    created = CallTask.objects.filter(origin="import")
    assert {t.contact.external_id for t in created} == {"AL-OK", "PR-1"}
    assert all(t.queue == portfolio.reactivation_a for t in created)
    summary = report.summary()
    assert (summary["queued"], summary["not_queued"], summary["already_queued"]) == (2, 4, 1)
    assert summary["reasons"] == {"part2_consent_missing": 2, "consent_missing": 3}
    # The new alum is on file now, ready for a consent; the list changed no existing contact.
    new = Contact.objects.get(external_id="AL-NEW")
    assert (new.first_name, new.patient_status, new.phones.get().provided_by_patient) == (
        "Nova",
        "former",
        True,
    )


@pytest.mark.django_db
def test_a_list_that_says_patient_wins_over_a_record_that_does_not(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    data = HEADER + "PR-1,,,305-555-0165,former,\n"
    report = alumni_import(queue=portfolio.reactivation_a, data=data, actor=SYSTEM)
    assert report.rows[0].codes == ("part2_consent_missing",)
    assert "raised to the list's: former" in report.rows[0].detail
    assert Contact.objects.get(external_id="PR-1").patient_status == "former"


@pytest.mark.django_db
def test_importing_the_same_list_again_creates_nothing_new(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    alumni_import(queue=portfolio.reactivation_a, data=mixed["data"], actor=SYSTEM)
    contacts, phones, tasks, _ = counts()
    again = alumni_import(queue=portfolio.reactivation_a, data=mixed["data"], actor=SYSTEM)
    assert counts()[:3] == (contacts, phones, tasks)
    assert again.summary()["already_queued"] == 3


BAD_FILES = [
    (HEADER.replace("phone", "phnoe") + "X,,,305-555-0161,,\n", 1, "phnoe"),
    ("external_id,first_name\nX,Y\n", 1, "phone"),
    ("external_id,phone,phone\nX,305-555-0161,305-555-0161\n", 1, "phone"),
    (HEADER + "AL-OK,,,305-555-0161,,\nAL-2,,,555-0000,,\n", 3, "phone"),
    (HEADER + "AL-OK,,,305-555-0161,alumnus,\n", 2, "patient_status"),
    (HEADER + "AL-OK,,,305-555-0161,,maybe\n", 2, "provided_by_patient"),
    (HEADER + "AL-OK,,,305-555-0161,,\nAL-OK,,,305-555-0166,,\n", 3, "external_id"),
    (HEADER + ",,,305-555-0161,,\n", 2, "external_id"),
    (HEADER + "AL-OK,,,305-555-0161,\n", 2, "file"),
    ("external_id,phone,state\nAL-OK,305-555-0161,Florida\n", 2, "state"),
    ("external_id,phone,postal_code\nAL-OK,305-555-0161,3310\n", 2, "postal_code"),
    (HEADER, 2, "file"),
    ("", 1, "file"),
    (b"external_id,phone\n\xff\xfe,305\n", 0, "file"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "row", "field"), BAD_FILES)
def test_a_bad_file_changes_nothing_and_names_the_row_and_field(
    portfolio: Portfolio, mixed: dict[str, Any], data: str | bytes, row: int, field: str
) -> None:
    before = counts()
    report = alumni_import(queue=portfolio.reactivation_a, data=data, actor=SYSTEM)
    assert not report.ok and report.rows == []
    assert (report.errors[0].row, report.errors[0].field) == (row, field), report.errors
    assert counts() == before
    assert "0161" not in str(report.to_dict())  # a bad value is named, never echoed


@pytest.mark.django_db
def test_only_a_reactivation_queue_takes_an_alumni_list(portfolio: Portfolio) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        alumni_import(queue=portfolio.callback_a, data=HEADER, actor=SYSTEM)


@pytest.mark.django_db
def test_a_large_file_goes_to_a_worker_on_the_bulk_queue(
    portfolio: Portfolio,
    mixed: dict[str, Any],
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(module, "INLINE_MAX_ROWS", 3)
    monkeypatch.setattr(module, "CHUNK_ROWS", 2)
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = alumni_import_submit(
            queue=portfolio.reactivation_a, data=mixed["data"].encode(), actor=SYSTEM
        )
    assert run is not None and run.status == "queued"
    assert sent == [(bulk_alumni_import.name, [run.pk])]
    assert not CallTask.objects.filter(origin="import").exists()  # nothing until the worker runs
    # The file waits encrypted.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM consent_alumniimport WHERE id = %s", [run.pk])
        assert "AL-NEW" not in cursor.fetchone()[0]

    from config.celery import app

    assert app.amqp.router.route({}, bulk_alumni_import.name, (run.pk,), {})["queue"].name == "bulk"
    assert bulk_alumni_import(run.pk) == "done"
    run.refresh_from_db()
    assert (run.status, run.rows_done, run.content) == ("done", 7, None)
    assert run.report["summary"]["queued"] == 2
    assert [r["row"] for r in run.report["rows"]] == [2, 3, 4, 5, 6, 7, 8]
    assert bulk_alumni_import(run.pk) == "skipped"  # a second delivery does nothing


@pytest.mark.django_db
def test_a_worker_that_fails_keeps_the_chunks_it_committed(
    portfolio: Portfolio, mixed: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(module, "INLINE_MAX_ROWS", 1)
    monkeypatch.setattr(module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(current_app, "send_task", lambda name, args: None)
    run, _ = alumni_import_submit(queue=portfolio.reactivation_a, data=mixed["data"], actor=SYSTEM)
    assert run is not None
    real = module.alumni_import_rows
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away with +13055550166 in the message")
        return real(**kwargs)

    monkeypatch.setattr(module, "alumni_import_rows", flaky)
    report = alumni_import_run(import_id=run.pk)
    assert report is not None
    run.refresh_from_db()
    assert (run.status, run.rows_done, run.content) == ("failed", 2, None)
    assert "0166" not in str(run.report)
    assert run.report["errors"][0]["message"].startswith("stopped after 2 rows (RuntimeError)")
    assert CallTask.objects.filter(origin="import").count() == 1  # AL-OK, in the first chunk


@pytest.mark.django_db
def test_a_run_claimed_by_another_worker_is_left_alone(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    run = AlumniImport.objects.create(
        queue=portfolio.reactivation_a, status="running", content=mixed["data"], requested_by=SYSTEM
    )
    from django.utils import timezone

    AlumniImport.objects.filter(pk=run.pk).update(claimed_at=timezone.now())
    assert alumni_import_run(import_id=run.pk) is None


@pytest.mark.django_db
def test_a_run_whose_worker_died_resumes_after_its_last_chunk(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    run = AlumniImport.objects.create(
        queue=portfolio.reactivation_a,
        status="running",
        content=mixed["data"],
        rows_total=7,
        rows_done=2,
        requested_by=SYSTEM,
    )
    AlumniImport.objects.filter(pk=run.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    report = alumni_import_run(import_id=run.pk)
    assert report is not None
    assert [o.row for o in report.rows] == [4, 5, 6, 7, 8]  # rows 2 and 3 were done before
    run.refresh_from_db()
    assert (run.status, run.rows_done) == ("done", 7)
    assert not Contact.objects.filter(external_id="AL-NEW").exists()  # row 3: not run again


@pytest.mark.django_db
def test_it_reports_the_numbers_the_rnd_already_marked_reassigned(
    portfolio: Portfolio, mixed: dict[str, Any]
) -> None:
    """RULES.md 3a: a `yes` for the date of the consent a row relies on keeps it out."""
    from datetime import timedelta

    from django.utils import timezone

    from common.crypto import keyed_hash
    from dnc.models import RndAnswer
    from dnc.rnd.facts import consent_date_of

    signed = mixed["ok"].consents.get(kind="tcpa_written").signed_at
    for number, asked in (
        ("+13055550161", consent_date_of(signed)),  # AL-OK: its consent's date
        ("+13055550165", consent_date_of(signed) - timedelta(days=400)),  # PR-1: another date
        ("+13055550166", consent_date_of(signed)),  # AL-NEW: no consent at all
    ):
        RndAnswer.objects.create(
            number_hash=keyed_hash(number),
            consent_date=asked,
            result="yes",
            queried_at=timezone.now(),
            source="file:test.csv",
        )
    report = alumni_import(queue=portfolio.reactivation_a, data=mixed["data"], actor=SYSTEM)
    by_id = {o.external_id: o for o in report.rows}
    assert (by_id["AL-OK"].status, by_id["AL-OK"].codes) == ("not_queued", ("number_reassigned",))
    assert "disconnected since" in by_id["AL-OK"].detail
    assert "305" not in by_id["AL-OK"].detail
    assert (by_id["PR-1"].status, by_id["PR-1"].codes) == ("queued", ())
    assert "disconnected since" in by_id["PR-1"].detail
    assert "number_reassigned" in by_id["AL-NEW"].codes
    assert not CallTask.objects.filter(origin="import", contact=mixed["ok"]).exists()
