"""Program isolation in the admin, with three personas: staff of A, manager of A, staff of B."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import Portfolio


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _changelist(model: str) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_changelist")


def _change(model: str, pk: int) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_change", args=[pk])


@pytest.mark.django_db
def test_staff_of_a_sees_contacts_of_a_only(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_a)
    page = client.get(_changelist("campaigns.contact")).content.decode()
    assert "A-1" in page
    assert "B-1" not in page
    assert client.get(_change("campaigns.contact", portfolio.contact_a.pk)).status_code == 200


@pytest.mark.django_db
def test_staff_of_b_sees_nothing_of_a(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_b)
    a = portfolio
    for model, pk, marker in [
        ("campaigns.contact", a.contact_a.pk, "A-1"),
        ("campaigns.program", a.program_a.pk, "prog-a"),
        ("campaigns.queue", a.callback_a.pk, "prog-a/"),
        (
            "campaigns.phonenumber",
            a.contact_a.phones.get().pk,
            f"Phone #{a.contact_a.phones.get().pk}",
        ),
    ]:
        listing = client.get(_changelist(model)).content.decode()
        assert marker not in listing, model
        detail = client.get(_change(model, pk))
        # Django answers "does not exist" (a redirect to the index), never the object.
        assert detail.status_code == 302, model
        assert detail["Location"] == reverse("admin:index")
    audit_page = client.get(_changelist("audit.auditevent"))
    assert audit_page.status_code == 403  # admissions staff do not read the trail


@pytest.mark.django_db
def test_staff_of_b_gets_only_program_b_in_the_contact_form(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_b)
    form = client.get(reverse("admin:campaigns_contact_add")).content.decode()
    assert "prog-b" in form
    assert "prog-a" not in form


@pytest.mark.django_db
def test_staff_of_b_cannot_file_a_contact_under_program_a(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_b)
    response = client.post(
        reverse("admin:campaigns_contact_add"),
        {
            "program": portfolio.program_a.pk,
            "external_id": "SNEAK",
            "patient_status": "none",
            "phones-TOTAL_FORMS": "0",
            "phones-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert not portfolio.program_a.contacts.filter(external_id="SNEAK").exists()


@pytest.mark.django_db
def test_manager_of_a_works_queues_of_a_and_not_contacts(portfolio: Portfolio) -> None:
    client = _client(portfolio.manager_a)
    listing = client.get(_changelist("campaigns.queue")).content.decode()
    assert "prog-a/callback" in listing
    assert "prog-b/" not in listing
    assert client.get(_change("campaigns.queue", portfolio.callback_b.pk)).status_code == 302
    assert client.get(_changelist("campaigns.contact")).status_code == 403


@pytest.mark.django_db
def test_manager_publishes_a_new_script_version_from_the_queue_page(portfolio: Portfolio) -> None:
    client = _client(portfolio.manager_a)
    queue = portfolio.callback_a
    response = client.post(
        _change("campaigns.queue", queue.pk),
        {
            "program": queue.program_id,
            "slug": queue.slug,
            "name": queue.name,
            "purpose": queue.purpose,
            "window_start": "09:00",
            "window_end": "19:00",
            "days": ["0", "1", "2", "3", "4"],
            "max_attempts": "3",
            "retry_minutes": "60",
            "active": "on",
            "new_script": "Version two of the greeting.",
            "scripts-TOTAL_FORMS": "1",
            "scripts-INITIAL_FORMS": "1",
            "scripts-0-id": str(queue.current_script_id),
            "scripts-0-queue": str(queue.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    queue.refresh_from_db()
    assert queue.current_script is not None
    assert queue.current_script.version == 2
    assert queue.current_script.body == "Version two of the greeting."
    assert queue.scripts.count() == 2


@pytest.mark.django_db
def test_audit_trail_is_scoped_for_the_compliance_officer(portfolio: Portfolio) -> None:
    from campaigns.roles import COMPLIANCE_OFFICER
    from tests.conftest import make_user

    officer_b = make_user("officer-b", COMPLIANCE_OFFICER, portfolio.program_b)
    client = _client(officer_b)
    page = client.get(_changelist("audit.auditevent") + "?object_type__exact=contact")
    assert page.status_code == 200
    text = page.content.decode()
    assert f'field-object_id">{portfolio.contact_b.pk}<' in text
    assert f'field-object_id">{portfolio.contact_a.pk}<' not in text
