"""The clinical side: identifiers only for the contact's own program, and every look recorded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import Portfolio


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_staff_of_b_cannot_open_the_contacts_of_a(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_b)
    contact = portfolio.contact_a
    phone = contact.phones.get()
    for url in (
        reverse("admin:campaigns_contact_change", args=[contact.pk]),
        reverse("admin:campaigns_phonenumber_change", args=[phone.pk]),
    ):
        response = client.get(url, follow=True)
        page = response.content.decode()
        # Django answers "does not exist" on the index page: nothing of the contact.
        assert response.redirect_chain[0] == (reverse("admin:index"), 302), url
        for identifier in ("Avery", "Alpha", "A-1", "555-0123", "5550123"):
            assert identifier not in page, url
    listing = client.get(reverse("admin:campaigns_contact_changelist")).content.decode()
    assert "A-1" not in listing and "B-1" in listing
    viewed = AuditEvent.objects.filter(action__endswith="identifiers_viewed")
    assert not viewed.exists()  # nothing was shown, so nothing is recorded as seen


@pytest.mark.django_db
def test_each_view_of_a_contacts_identifiers_is_recorded(portfolio: Portfolio) -> None:
    client = _client(portfolio.staff_a)
    contact = portfolio.contact_a
    url = reverse("admin:campaigns_contact_change", args=[contact.pk])
    for _ in range(2):
        page = client.get(url)
        assert page.status_code == 200
        assert "Avery" in page.content.decode()
    events = AuditEvent.objects.filter(action="contact.identifiers_viewed").order_by("id")
    assert [(e.actor, e.object_type, e.object_id, e.program_id) for e in events] == [
        (f"user:{portfolio.staff_a.pk}", "contact", str(contact.pk), portfolio.program_a.pk)
    ] * 2
    assert events[0].data == {"phones": [contact.phones.get().pk]}
    assert events[0].occurred_at <= events[1].occurred_at
    for event in events:  # the trail names the contact by id, never by what was seen
        assert "Avery" not in str(event.data) and "555" not in str(event.data)


@pytest.mark.django_db
def test_a_view_of_a_phone_number_is_recorded(portfolio: Portfolio) -> None:
    phone = portfolio.contact_a.phones.get()
    page = _client(portfolio.staff_a).get(
        reverse("admin:campaigns_phonenumber_change", args=[phone.pk])
    )
    assert page.status_code == 200
    event = AuditEvent.objects.get(action="phone.identifiers_viewed")
    assert (event.actor, event.object_id, event.program_id) == (
        f"user:{portfolio.staff_a.pk}",
        str(phone.pk),
        portfolio.program_a.pk,
    )
    assert event.data == {"contact": portfolio.contact_a.pk}


@pytest.mark.django_db
def test_the_contact_list_records_which_contacts_it_showed(portfolio: Portfolio) -> None:
    page = _client(portfolio.staff_a).get(reverse("admin:campaigns_contact_changelist"))
    assert page.status_code == 200
    event = AuditEvent.objects.get(action="contact.list_viewed")
    assert event.program_id == portfolio.program_a.pk
    assert event.data == {"contacts": [portfolio.contact_a.pk]}


@pytest.mark.django_db
def test_adding_a_contact_records_no_view(portfolio: Portfolio) -> None:
    page = _client(portfolio.staff_a).get(reverse("admin:campaigns_contact_add"))
    assert page.status_code == 200
    assert not AuditEvent.objects.filter(action="contact.identifiers_viewed").exists()
