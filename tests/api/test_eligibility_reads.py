"""What POST /eligibility/ reads on file, held to what dispatch reads for the same call.

The eligibility path reads a contact, its number and that number's open task in
one plain SQL query; dispatch reads the saved task through the ORM. For the
same call at the same instant both must reach the same decision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from campaigns.models import Contact, PatientStatus
from campaigns.services import PhoneInput, contact_create
from common.crypto import keyed_hash
from dialer.acts.eligibility import EligibilityError, eligibility_decide
from dialer.decision.engine import decide
from dialer.models import CallTask, TaskOrigin
from dialer.rows import TaskRow
from dialer.selectors import task_facts_many
from tests.conftest import SYSTEM, Portfolio, make_queue

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Miami
NUMBER = "+13055550123"  # contact_a's


def _task(portfolio: Portfolio, **fields: object) -> CallTask:
    phone = portfolio.contact_a.phones.get()
    return CallTask.objects.create(
        contact=portfolio.contact_a,
        phone=phone,
        number_hash=phone.number_hash,
        queue=portfolio.callback_a,
        next_attempt_at=AT,
        origin=TaskOrigin.API,
        **fields,
    )


def _dispatch_decision(task: CallTask) -> object:
    saved = CallTask.objects.select_related("contact", "phone").get(pk=task.pk)
    return decide(task_facts_many([TaskRow.of(saved)], at=AT)[0], AT)


@pytest.mark.parametrize(
    "fields",
    [
        {"attempts": 3, "last_attempt_at": AT - timedelta(hours=5), "requested_at": AT},
        {"attempts": 1, "last_attempt_at": AT - timedelta(minutes=10), "requested_at": AT},
        {"attempts": 0, "requested_at": AT - timedelta(days=40)},
    ],
    ids=["attempts-used-up", "retry-too-soon", "stale-request"],
)
def test_an_open_task_is_decided_as_dispatch_would(
    portfolio: Portfolio, fields: dict[str, object]
) -> None:
    task = _task(portfolio, **fields)
    expected = _dispatch_decision(task)
    by_number = eligibility_decide(
        program=portfolio.program_a, queue_slug=portfolio.callback_a.slug, at=AT, phone=NUMBER
    )
    by_contact = eligibility_decide(
        program=portfolio.program_a,
        queue_slug=portfolio.callback_a.slug,
        at=AT,
        contact_id=portfolio.contact_a.pk,
    )
    assert by_number == expected
    assert by_contact == expected
    assert not expected.allowed  # each case is one a user must be told about


def test_a_closed_task_is_not_read(portfolio: Portfolio) -> None:
    _task(portfolio, attempts=3, status="done", requested_at=AT)
    decision = eligibility_decide(
        program=portfolio.program_a, queue_slug=portfolio.callback_a.slug, at=AT, phone=NUMBER
    )
    assert decision.allowed, decision.codes


def test_a_task_on_another_queue_is_not_read(portfolio: Portfolio) -> None:
    _task(portfolio, attempts=3, requested_at=AT)
    other = make_queue(portfolio.program_a, "callback", slug="callback-2")
    decision = eligibility_decide(
        program=portfolio.program_a, queue_slug=other.slug, at=AT, phone=NUMBER
    )
    assert decision.allowed, decision.codes


def test_a_contact_is_decided_on_its_own_number_and_state(portfolio: Portfolio) -> None:
    decision = eligibility_decide(
        program=portfolio.program_a,
        queue_slug=portfolio.callback_a.slug,
        at=datetime(2026, 12, 1, 13, 30, tzinfo=UTC),  # 08:30 in Miami: before 9
        contact_id=portfolio.contact_a.pk,
    )
    assert "America/New_York" in decision.zones
    assert "outside_calling_window" in decision.codes


def test_a_number_not_on_the_contacts_file_keeps_the_contacts_facts(
    portfolio: Portfolio,
) -> None:
    """contact_a lives in Florida; a California number given for it is checked in both."""
    decision = eligibility_decide(
        program=portfolio.program_a,
        queue_slug=portfolio.callback_a.slug,
        at=datetime(2026, 12, 1, 16, 30, tzinfo=UTC),  # 11:30 Miami, 08:30 Los Angeles
        contact_id=portfolio.contact_a.pk,
        phone="+14155550188",
    )
    assert {"America/New_York", "America/Los_Angeles"} <= set(decision.zones)
    assert not decision.allowed


def test_given_facts_override_the_file(portfolio: Portfolio) -> None:
    decision = eligibility_decide(
        program=portfolio.program_a,
        queue_slug=portfolio.reactivation_a.slug,
        at=AT,
        phone=NUMBER,
        patient_status=PatientStatus.FORMER,
    )
    assert "part2_consent_missing" in decision.codes


def test_a_contact_of_another_program_or_without_a_number_is_refused(
    portfolio: Portfolio,
) -> None:
    with pytest.raises(EligibilityError) as unknown:
        eligibility_decide(
            program=portfolio.program_b,
            queue_slug=portfolio.callback_b.slug,
            at=AT,
            contact_id=portfolio.contact_a.pk,
        )
    assert unknown.value.field == "contact"
    bare = contact_create(program=portfolio.program_a, phones=[], actor=SYSTEM, external_id="A-2")
    with pytest.raises(EligibilityError) as no_number:
        eligibility_decide(
            program=portfolio.program_a,
            queue_slug=portfolio.callback_a.slug,
            at=AT,
            contact_id=bare.pk,
        )
    assert no_number.value.field == "phone"


def test_an_unknown_number_is_a_new_person(portfolio: Portfolio) -> None:
    other = contact_create(
        program=portfolio.program_b,
        phones=[PhoneInput("+13055550199")],
        actor=SYSTEM,
        patient_status=PatientStatus.FORMER,
    )
    assert Contact.objects.get(pk=other.pk).phones.get().number_hash == keyed_hash("+13055550199")
    # Known to program B as a former patient; program A knows nothing of it.
    decision = eligibility_decide(
        program=portfolio.program_a,
        queue_slug=portfolio.callback_a.slug,
        at=AT,
        phone="+13055550199",
    )
    assert decision.allowed, decision.codes


def test_its_reads_are_planned_once_per_connection(portfolio: Portfolio) -> None:
    """Server-side binding with a prepare threshold (settings): from the third run on
    one connection, PostgreSQL reuses the plan of what is on file instead of planning."""
    for _ in range(3):
        eligibility_decide(
            program=portfolio.program_a, queue_slug=portfolio.callback_a.slug, at=AT, phone=NUMBER
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FROM campaigns_phonenumber ph" in statement for statement in prepared), prepared
