"""POST /enrollments/: each contact queued on a reactivation queue, or refused with its codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import actor_system
from campaigns.models import Contact
from campaigns.services import PhoneInput, contact_create
from dialer.models import CallTask
from tests.api.conftest import error_fields, post
from tests.conftest import Portfolio

pytestmark = pytest.mark.django_db

SYSTEM = actor_system("tests")
SIGNED = (timezone.now() - timedelta(days=3)).replace(microsecond=0).isoformat()


def _alumnus(portfolio: Portfolio, number: str) -> Contact:
    return contact_create(
        program=portfolio.program_a,
        state="FL",
        postal_code="33101",
        patient_status="former",
        phones=[PhoneInput(number, provided_by_patient=True)],
        actor=SYSTEM,
    )


def _written(token: str, contact: Contact, number: str) -> None:
    response = post(
        token,
        "consents/",
        {
            "contact": contact.pk,
            "kind": "tcpa_written",
            "number": number,
            "purposes": ["reactivation"],
            "signed_at": SIGNED,
            "signature": "/s/ e-sign",
        },
    )
    assert response.status_code == 201, response.json()


def _part2(token: str, portfolio: Portfolio, contact: Contact) -> None:
    response = post(
        token,
        "consents/",
        {
            "contact": contact.pk,
            "kind": "part2",
            "purposes": ["reactivation"],
            "signed_at": SIGNED,
            "expires_at": None,
            "expiration_event": "one year after discharge",
            "signature": "/s/ on paper",
            "recipients": [portfolio.program_a.slug],
            "description": "attendance and discharge date",
            "revocation_notice_given": True,
        },
    )
    assert response.status_code == 201, response.json()


class TestEnrollments:
    def test_mixed_rows_answer_both_lists_and_queue_only_the_allowed(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        token = tokens["crm_a"]
        allowed = _alumnus(portfolio, "305-555-0301")
        _written(token, allowed, "305-555-0301")
        _part2(token, portfolio, allowed)
        no_part2 = _alumnus(portfolio, "305-555-0302")
        _written(token, no_part2, "305-555-0302")
        listed = _alumnus(portfolio, "305-555-0303")
        _written(token, listed, "305-555-0303")
        _part2(token, portfolio, listed)
        assert post(token, "dnc/", {"number": "305-555-0303", "source": "call"}).status_code == 201

        response = post(
            token,
            "enrollments/",
            {"queue": "reactivation", "contacts": [allowed.pk, no_part2.pk, listed.pk]},
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        tasks = CallTask.objects.filter(queue=portfolio.reactivation_a)
        assert body["queued"] == [{"contact": allowed.pk, "task": tasks.get().pk}]
        refused = {r["contact"]: r["reasons"] for r in body["refused"]}
        assert refused == {no_part2.pk: ["part2_consent_missing"], listed.pk: ["internal_dnc"]}
        assert tasks.get().contact_id == allowed.pk

    def test_no_written_consent_is_refused(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        contact = contact_create(
            program=portfolio.program_a,
            state="FL",
            phones=[PhoneInput("305-555-0311")],
            actor=SYSTEM,
        )
        body = post(
            tokens["crm_a"], "enrollments/", {"queue": "reactivation", "contacts": [contact.pk]}
        ).json()
        assert body == {
            "queued": [],
            "refused": [{"contact": contact.pk, "reasons": ["consent_missing"]}],
        }
        assert CallTask.objects.count() == 0

    def test_a_repeat_answers_the_task_already_queued(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        token = tokens["crm_a"]
        contact = contact_create(
            program=portfolio.program_a,
            state="FL",
            phones=[PhoneInput("305-555-0321")],
            actor=SYSTEM,
        )
        _written(token, contact, "305-555-0321")
        body = {"queue": "reactivation", "contacts": [contact.pk]}
        first = post(token, "enrollments/", body).json()
        again = post(token, "enrollments/", body).json()
        assert first == again and len(first["queued"]) == 1
        assert CallTask.objects.count() == 1

    def test_an_unknown_or_foreign_contact_refuses_the_whole_request(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        token = tokens["crm_a"]
        contact = contact_create(
            program=portfolio.program_a,
            state="FL",
            phones=[PhoneInput("305-555-0331")],
            actor=SYSTEM,
        )
        _written(token, contact, "305-555-0331")
        response = post(
            token,
            "enrollments/",
            {"queue": "reactivation", "contacts": [contact.pk, portfolio.contact_b.pk]},
        )
        assert response.status_code == 400 and error_fields(response) == {"contacts"}
        assert CallTask.objects.count() == 0

    def test_bad_input_names_the_field(self, portfolio: Portfolio, tokens: dict[str, str]) -> None:
        token = tokens["crm_a"]
        callback = post(token, "enrollments/", {"queue": "callback", "contacts": [1]})
        assert callback.status_code == 400 and error_fields(callback) == {"queue"}
        too_many = post(
            token, "enrollments/", {"queue": "reactivation", "contacts": list(range(1, 1002))}
        )
        assert too_many.status_code == 400 and error_fields(too_many) == {"contacts"}
        other = post(tokens["crm_b"], "enrollments/", {"queue": "reactivation", "contacts": [1]})
        assert other.status_code == 400 and error_fields(other) == {"queue"}
