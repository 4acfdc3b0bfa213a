"""Reports fixtures: calls with identifiers planted where they must never surface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.utils import timezone

from campaigns.models import Contact, Purpose, Queue
from campaigns.roles import MARKETING_ANALYST
from campaigns.services import PhoneInput, contact_create
from dialer.models import ANSWERED_OUTCOMES, CallAttempt, CallTask, Outcome
from dialer.services import task_create
from reports.dbrole import marketing_role_available
from reports.routers import MARKETING_DB
from tests.conftest import SYSTEM, Portfolio, make_queue, make_user

BOTH = ["default", MARKETING_DB]

# What a marketing reader must never see, in any form.
PLANTED_NUMBER = "+13055550199"
FORBIDDEN = [
    PLANTED_NUMBER,
    "3055550199",
    "305-555-0199",
    "(305) 555-0199",
    "555-0199",
    "5550199",
    "Zebulon",
    "Quixote-Marlowe",
    "CRM-778899-XYZ",
    # The portfolio's own contacts.
    "+13055550123",
    "3055550123",
    "5550123",
    "Avery",
    "Alpha",
    "+16025550142",
    "6025550142",
    "Blair",
    "Beta",
]
# Words that would say a person is or was in treatment.
TREATMENT_WORDS = ["patient", "former", "alumni", "alum", "recovery", "detox", "treatment"]


@dataclass
class Planted:
    portfolio: Portfolio
    reminder_a: Queue
    patient: Contact
    attempts: list[CallAttempt] = field(default_factory=list)
    # Per program slug: attempts and connects the dashboard must show.
    expected: dict[str, dict[str, int]] = field(default_factory=dict)


def marketing_or_skip() -> None:
    problem = marketing_role_available()
    if problem is not None:
        pytest.skip(
            f"{problem}: the database user may not create the marketing role"
            " (see reports/dbrole.py; run `manage.py marketing_role` as a superuser)"
        )


@pytest.fixture
def marketing_raw() -> Iterator[Any]:
    """A psycopg connection (autocommit) as the marketing role, for tests that need no data.

    Made apart from Django's `marketing` connection, which a non-transactional
    test would open (in a transaction) before it could skip: without the role
    (a database user that may not create roles) the test skips here instead.
    """
    import psycopg

    wrapper = connections[MARKETING_DB]
    try:
        raw = wrapper.get_new_connection(wrapper.get_connection_params())
    except psycopg.OperationalError as exc:
        pytest.skip(
            f"the marketing role cannot connect ({type(exc).__name__}): the database user may"
            " not create it (see reports/dbrole.py; run `manage.py marketing_role` as a superuser)"
        )
    raw.autocommit = True
    yield raw
    raw.close()


@pytest.fixture(autouse=True)
def _close_marketing() -> Iterator[None]:
    yield
    # The mirror connection is not managed by the test case: close it, or the
    # test database cannot be dropped at the end of the run.
    connections[MARKETING_DB].close()


@pytest.fixture
def analyst_a(portfolio: Portfolio) -> User:
    return make_user("analyst-a", MARKETING_ANALYST, portfolio.program_a)


def add_attempt(
    task: CallTask,
    *,
    started_at: datetime,
    outcome: str,
    number: int,
    duration: int | None = None,
) -> CallAttempt:
    return CallAttempt.objects.create(
        task=task,
        phone=task.phone,
        attempt_number=number,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=duration or 5),
        outcome=outcome,
        duration_seconds=duration,
        answered=outcome in ANSWERED_OUTCOMES,
        abandoned=outcome == Outcome.ABANDONED,
    )


@pytest.fixture
def planted(portfolio: Portfolio) -> Planted:
    """Calls in both programs, from contacts whose identifiers are planted everywhere we can.

    Program A: a lead (callback, source "google-ads") with two attempts (no
    answer, then connected 90 s after... the request), a lead whose source is
    a phone number, a patient reminded (connected), an alum on reactivation
    (abandoned) and a withdrawn attempt that was never dialled.
    Program B: one connected callback.
    """
    now = timezone.now().replace(microsecond=0)
    day = now - timedelta(days=3)
    p = portfolio
    reminder_a = make_queue(p.program_a, Purpose.REMINDER)
    lead = contact_create(
        program=p.program_a,
        external_id="CRM-778899-XYZ",
        first_name="Zebulon",
        last_name="Quixote-Marlowe",
        state="FL",
        postal_code="33101",
        phones=[PhoneInput(PLANTED_NUMBER, provided_by_patient=True)],
        actor=SYSTEM,
    )
    patient = contact_create(
        program=p.program_a,
        external_id="CRM-PATIENT-5",
        first_name="Zebulon",
        last_name="Quixote-Marlowe",
        state="FL",
        patient_status="former",
        phones=[PhoneInput("+13055550177", provided_by_patient=True)],
        actor=SYSTEM,
    )
    planted = Planted(portfolio=p, reminder_a=reminder_a, patient=patient)

    def task(contact: Contact, queue: Queue, source: str, requested: datetime) -> CallTask:
        return task_create(
            contact=contact,
            phone=contact.phones.first(),  # type: ignore[arg-type]
            queue=queue,
            origin="api",
            source=source,
            requested_at=requested,
            actor=SYSTEM,
        )

    t1 = task(lead, p.callback_a, "google-ads", day - timedelta(seconds=90))
    planted.attempts += [
        add_attempt(t1, started_at=day, outcome=Outcome.NO_ANSWER, number=1),
        add_attempt(
            t1,
            started_at=day + timedelta(hours=4),
            outcome=Outcome.CONNECTED,
            number=2,
            duration=240,
        ),
    ]
    t2 = task(p.contact_a, p.callback_a, "lead-3055550199 Zebulon", day - timedelta(minutes=10))
    planted.attempts += [
        add_attempt(t2, started_at=day, outcome=Outcome.WITHDRAWN, number=1),
        add_attempt(
            t2,
            started_at=day + timedelta(minutes=5),
            outcome=Outcome.CONNECTED,
            number=2,
            duration=60,
        ),
    ]
    t3 = task(patient, reminder_a, "CRM-778899-XYZ", day)
    planted.attempts.append(
        add_attempt(
            t3,
            started_at=day + timedelta(hours=1),
            outcome=Outcome.CONNECTED,
            number=1,
            duration=30,
        )
    )
    t4 = task(patient, p.reactivation_a, "alumni-list", day)
    planted.attempts.append(
        add_attempt(t4, started_at=day + timedelta(hours=2), outcome=Outcome.ABANDONED, number=1)
    )
    t5 = task(p.contact_b, p.callback_b, "facebook", day - timedelta(minutes=1))
    planted.attempts.append(
        add_attempt(t5, started_at=day, outcome=Outcome.CONNECTED, number=1, duration=100)
    )
    # Dialled attempts (withdrawn ones are not calls): A 5 attempts, 3 connects; B 1 and 1.
    planted.expected = {
        "prog-a": {"attempts": 5, "connects": 3, "answered": 4, "abandoned": 1},
        "prog-b": {"attempts": 1, "connects": 1, "answered": 1, "abandoned": 0},
    }
    return planted


def visible_text(values: Any) -> str:
    return "\n".join(str(v) for v in values)


def assert_nothing_identifying(text: str, where: str) -> None:
    lowered = text.lower()
    for value in FORBIDDEN:
        assert value.lower() not in lowered, f"{where} shows a planted identifier"
