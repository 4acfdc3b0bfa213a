"""Which numbers wait for an RND answer, the export for a bulk query, and the provider refresh."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, Purpose
from campaigns.services import PhoneInput, contact_create
from common.crypto import keyed_hash
from consent.services import ConsentInput, consent_create
from dialer.decision.engine import decide
from dialer.models import CallTask
from dialer.rows import TaskRow
from dialer.runtime.rnd import rnd_needed, rnd_refresh, rnd_waiting_count
from dialer.selectors import task_facts_many
from dialer.services import task_create
from dnc.models import RndAnswer
from dnc.rnd.facts import consent_date_of
from dnc.rnd.provider import HttpRndProvider
from tests.conftest import SYSTEM, Portfolio, make_queue
from tests.dnc.test_rnd_provider import KEY, FakeRnd, fake  # noqa: F401

pytestmark = pytest.mark.django_db

OLD, RECENT = "+13055550171", "+13055550172"  # consents 100 and 10 days old
FRESH_NO, STALE_NO, YES = "+13055550173", "+13055550174", "+13055550175"


def _alum(portfolio: Portfolio, number: str, days: int) -> tuple[Contact, date]:
    contact = contact_create(
        program=portfolio.program_a,
        external_id=f"AL-{number[-4:]}",
        state="FL",
        phones=[PhoneInput(number, "mobile", provided_by_patient=True)],
        actor=SYSTEM,
    )
    signed = timezone.now() - timedelta(days=days)
    consent_create(
        data=ConsentInput.of(
            contact=contact,
            kind="tcpa_written",
            number=number,
            purposes=["reactivation"],
            signed_at=signed,
            signature="/s/ e-sign",
        ),
        actor=SYSTEM,
    )
    task_create(
        contact=contact,
        phone=contact.phones.get(),
        queue=portfolio.reactivation_a,
        origin="admin",
        actor=SYSTEM,
    )
    return contact, consent_date_of(signed)


def _answer(number: str, asked: date, result: str, days_ago: int) -> None:
    RndAnswer.objects.create(
        number_hash=keyed_hash(number),
        consent_date=asked,
        result=result,
        queried_at=timezone.now() - timedelta(days=days_ago),
        source="file:test.csv",
    )


@pytest.fixture
def alumni(portfolio: Portfolio) -> dict[str, date]:
    dates = {number: _alum(portfolio, number, days)[1] for number, days in (
        (OLD, 100), (RECENT, 10), (FRESH_NO, 100), (STALE_NO, 100), (YES, 100)
    )}  # fmt: skip
    _answer(FRESH_NO, dates[FRESH_NO], "no", 3)
    _answer(STALE_NO, dates[STALE_NO], "no", 40)
    _answer(YES, dates[YES], "yes", 300)  # a yes is final: never asked again
    return dates


def test_it_finds_the_numbers_waiting_for_an_answer(
    portfolio: Portfolio, alumni: dict[str, date]
) -> None:
    needs = rnd_needed(at=timezone.now())
    assert {(n.number, n.consent_date) for n in needs} == {
        (OLD, alumni[OLD]),
        (STALE_NO, alumni[STALE_NO]),
    }
    assert rnd_waiting_count(queue_id=portfolio.reactivation_a.pk, at=timezone.now()) == 2
    # A paused queue waits for nothing from the provider, but still counts for its export.
    portfolio.reactivation_a.active = False
    portfolio.reactivation_a.save(update_fields=["active"])
    assert rnd_needed(at=timezone.now()) == []
    assert len(rnd_needed(at=timezone.now(), active_only=False)) == 2


def test_the_export_writes_the_csv_and_is_audited(
    portfolio: Portfolio, alumni: dict[str, date], tmp_path: Path
) -> None:
    target = tmp_path / "queries.csv"
    out = StringIO()
    call_command(
        "export_rnd_queries",
        "--program",
        portfolio.program_a.slug,
        "--output",
        str(target),
        stdout=out,
        stderr=StringIO(),
    )
    assert out.getvalue().strip() == str(target)
    with target.open() as written:
        rows = list(csv.DictReader(written))
    assert rows == sorted(
        [
            {"number": OLD, "consent_date": alumni[OLD].isoformat()},
            {"number": STALE_NO, "consent_date": alumni[STALE_NO].isoformat()},
        ],
        key=lambda r: r["number"],
    )
    assert target.stat().st_mode & 0o077 == 0
    event = AuditEvent.objects.get(action="dialer.rnd_queries_exported")
    assert event.data["numbers"] == 2 and event.program_id == portfolio.program_a.pk
    assert "555" not in str(event.data)


def test_the_refresh_asks_the_provider_and_the_calls_follow(
    portfolio: Portfolio,
    alumni: dict[str, date],
    fake: FakeRnd,  # noqa: F811
) -> None:
    fake.limit = 1
    fake.disconnected = {STALE_NO[2:]}
    provider = HttpRndProvider(base_url=fake.url, api_key=KEY, batch_limit=1, timeout=5)
    # No agreement on file: nothing leaves.
    assert rnd_refresh(at=timezone.now(), actor=SYSTEM, provider=provider) == 0
    assert fake.batches == []
    program = portfolio.program_a
    program.rnd_baa_signed_on = program.rnd_qso_signed_on = date(2026, 1, 5)
    program.save(update_fields=["rnd_baa_signed_on", "rnd_qso_signed_on"])

    assert rnd_refresh(at=timezone.now(), actor=SYSTEM, provider=provider) == 2
    assert len(fake.batches) == 2
    assert rnd_needed(at=timezone.now()) == []

    tasks = CallTask.objects.filter(queue=portfolio.reactivation_a).select_related(
        "contact", "phone"
    )
    at = timezone.now()
    reassigned = {
        t.phone.number: "number_reassigned" in decide(f, at).codes
        for t, f in zip(tasks, task_facts_many([TaskRow.of(t) for t in tasks], at=at), strict=True)
    }
    assert reassigned == {
        OLD: False,  # asked just now: no
        RECENT: False,  # within 45 days
        FRESH_NO: False,
        STALE_NO: True,  # asked again: yes
        YES: True,
    }


def test_reminder_queues_count_and_callback_queues_do_not(portfolio: Portfolio) -> None:
    reminder = make_queue(portfolio.program_a, Purpose.REMINDER)
    contact = portfolio.contact_a
    consent_create(
        data=ConsentInput.of(
            contact=contact,
            kind="tcpa_express",
            number="+13055550123",
            purposes=["reminder", "callback"],
            signed_at=timezone.now() - timedelta(days=200),
        ),
        actor=SYSTEM,
    )
    phone = contact.phones.get()
    for queue in (reminder, portfolio.callback_a):
        task_create(contact=contact, phone=phone, queue=queue, origin="admin", actor=SYSTEM)
    needs: Any = rnd_needed(at=timezone.now())
    assert [n.queue_id for n in needs] == [reminder.pk]


def test_the_schedules_admin_shows_how_many_numbers_wait_per_queue(
    portfolio: Portfolio, alumni: dict[str, date]
) -> None:
    from django.test import Client

    from dialer.runtime.schedules import schedules_sync

    schedules_sync()
    client = Client()
    client.force_login(portfolio.manager_a)
    page = client.get("/admin/django_celery_beat/periodictask/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Numbers awaiting an RND answer" in html
    assert '<td class="field-rnd_waiting">2</td>' in html
