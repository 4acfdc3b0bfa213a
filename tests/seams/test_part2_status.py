"""Issue 13, item 5: a Part 2 patient status only rises, and is never lost.

A current or former patient is called only under a Part 2 consent naming the
program (42 CFR Part 2). A status that could be lowered by an edit, left
behind by an import or overridden downward in a decision would let such a
call through; lowering is a compliance officer's audited correction alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from campaigns.models import Contact
from campaigns.roles import ADMISSIONS_STAFF, COMPLIANCE_OFFICER
from dialer.acts.alumni_import import alumni_import
from tests.api import conftest as api_conftest
from tests.api.conftest import api_client, error_fields, post
from tests.conftest import SYSTEM, Portfolio, make_user

pytestmark = pytest.mark.django_db
tokens = api_conftest.tokens  # the API clients' fixture, shared

JSON = "application/json"
PART2 = "part2_consent_missing"


def patch(token: str, path: str, body: Any) -> Any:
    return api_client(token).patch(f"/api/v1/{path}", body, content_type=JSON)


def reactivation_codes(token: str, contact_id: int, **overrides: Any) -> set[str]:
    """What blocks an alumni call to this contact now (the engine, with the file's facts)."""
    response = post(
        token, "eligibility/", {"queue": "reactivation", "contact": contact_id, **overrides}
    )
    assert response.status_code == 200, response.json()
    return {reason["code"] for reason in response.json()["reasons"]}


def test_patch_raises_the_status_and_the_next_decision_needs_part2(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    contact = portfolio.contact_a
    assert PART2 not in reactivation_codes(tokens["crm_a"], contact.pk)

    raised = patch(tokens["crm_a"], f"contacts/{contact.pk}/", {"patient_status": "current"})
    assert raised.status_code == 200, raised.json()
    assert raised.json()["patient_status"] == "current"
    assert PART2 in reactivation_codes(tokens["crm_a"], contact.pk)

    again = patch(tokens["crm_a"], f"contacts/{contact.pk}/", {"patient_status": "former"})
    assert again.status_code == 200 and again.json()["patient_status"] == "former"
    contact.refresh_from_db()
    assert contact.patient_status == "former"
    assert (
        AuditEvent.objects.filter(action="contact.changed", object_id=str(contact.pk)).count() == 2
    )


def test_patch_adds_numbers_and_an_address_without_touching_the_status(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    contact = portfolio.contact_a
    patch(tokens["crm_a"], f"contacts/{contact.pk}/", {"patient_status": "former"})
    response = patch(
        tokens["crm_a"],
        f"contacts/{contact.pk}/",
        {"state": "ga", "postal_code": "30301", "phones": [{"number": "(404) 555-0188"}]},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["state"], body["postal_code"], body["patient_status"]) == ("GA", "30301", "former")
    assert {p["number"] for p in body["phones"]} == {"+13055550123", "+14045550188"}


def test_a_lower_status_is_a_400_naming_it_and_changes_nothing(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    contact = portfolio.contact_a
    patch(tokens["crm_a"], f"contacts/{contact.pk}/", {"patient_status": "former"})
    for lower in ("current", "none"):
        response = patch(
            tokens["crm_a"],
            f"contacts/{contact.pk}/",
            {"patient_status": lower, "postal_code": "33139"},
        )
        assert response.status_code == 400 and error_fields(response) == {"patient_status"}
    contact.refresh_from_db()
    assert (contact.patient_status, contact.postal_code) == ("former", "33101")
    assert PART2 in reactivation_codes(tokens["crm_a"], contact.pk)


def test_another_programs_contact_cannot_be_patched(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    response = patch(
        tokens["crm_b"], f"contacts/{portfolio.contact_a.pk}/", {"patient_status": "former"}
    )
    assert response.status_code == 404
    portfolio.contact_a.refresh_from_db()
    assert portfolio.contact_a.patient_status == "none"


def test_a_repeated_post_with_another_status_is_a_conflict_and_patch_is_the_way(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    body = {"external_id": "A-9", "phones": [{"number": "305-555-0191"}]}
    created = post(tokens["crm_a"], "contacts/", body).json()
    repeat = post(tokens["crm_a"], "contacts/", {**body, "patient_status": "current"})
    assert repeat.status_code == 409
    response = patch(tokens["crm_a"], f"contacts/{created['id']}/", {"patient_status": "current"})
    assert response.status_code == 200
    assert Contact.objects.get(pk=created["id"]).patient_status == "current"


def test_the_alumni_import_saves_the_lists_stricter_status(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    contact = portfolio.contact_a  # on file as not a patient
    report = alumni_import(
        queue=portfolio.reactivation_a,
        data="external_id,phone,patient_status\nA-1,305-555-0123,former\n",
        actor=SYSTEM,
    )
    assert report.rows_total == 1 and not report.errors
    contact.refresh_from_db()
    assert contact.patient_status == "former"
    # Every later decision sees it, not only the import's.
    assert PART2 in reactivation_codes(tokens["crm_a"], contact.pk)


def test_an_eligibility_override_never_lowers_the_status_on_file(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    alum = post(
        tokens["crm_a"],
        "contacts/",
        {"external_id": "A-7", "phones": [{"number": "305-555-0177"}], "patient_status": "former"},
    ).json()
    assert PART2 in reactivation_codes(tokens["crm_a"], alum["id"], patient_status="none")
    # A stricter override is taken: an unknown number said to be a patient needs Part 2.
    codes = reactivation_codes(tokens["crm_a"], portfolio.contact_a.pk, patient_status="current")
    assert PART2 in codes


def _admin(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_a_compliance_officer_lowers_it_in_the_admin_with_a_reason(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    contact = portfolio.contact_a
    patch(tokens["crm_a"], f"contacts/{contact.pk}/", {"patient_status": "former"})
    url = f"/admin/campaigns/contact/{contact.pk}/lower-status/"

    staff = _admin(make_user("intake-a", ADMISSIONS_STAFF, portfolio.program_a))
    assert staff.post(url, {"patient_status": "none", "reason": "typo"}).status_code == 403
    change = f"/admin/campaigns/contact/{contact.pk}/change/"
    edited = staff.post(
        change,
        {
            "program": portfolio.program_a.pk,
            "external_id": "A-1",
            "state": "FL",
            "postal_code": "33101",
            "patient_status": "none",
            "phones-TOTAL_FORMS": "0",
            "phones-INITIAL_FORMS": "0",
        },
    )
    assert edited.status_code == 200 and b"only becomes stricter" in edited.content
    contact.refresh_from_db()
    assert contact.patient_status == "former"

    officer = _admin(make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a))
    no_reason = officer.post(url, {"patient_status": "none", "reason": ""})
    assert no_reason.status_code == 200
    contact.refresh_from_db()
    assert contact.patient_status == "former"

    done = officer.post(url, {"patient_status": "none", "reason": "Entered on the wrong record."})
    assert done.status_code == 302
    contact.refresh_from_db()
    assert contact.patient_status == "none"
    event = AuditEvent.objects.get(action="contact.patient_status_lowered")
    assert event.reason == "Entered on the wrong record."
    assert event.data["patient_status"] == ["former", "none"]
    assert event.actor.startswith("user:")
