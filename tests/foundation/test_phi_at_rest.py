"""Names and phone numbers are encrypted at rest; lookups go through a keyed hash."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns.models import PhoneNumber
from common.crypto import keyed_hash
from tests.conftest import Portfolio


@pytest.mark.django_db
def test_phone_numbers_are_not_stored_in_clear(portfolio: Portfolio) -> None:
    phone = portfolio.contact_a.phones.get()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT number, number_hash FROM campaigns_phonenumber WHERE id = %s", [phone.pk]
        )
        raw_number, raw_hash = cursor.fetchone()
    for clear in ("+13055550123", "3055550123", "555-0123", "5550123"):
        assert clear not in raw_number
    assert raw_hash == keyed_hash("+13055550123")
    assert PhoneNumber.objects.get(pk=phone.pk).number == "+13055550123"


@pytest.mark.django_db
def test_names_are_not_stored_in_clear(portfolio: Portfolio) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT first_name, last_name FROM campaigns_contact WHERE id = %s",
            [portfolio.contact_a.pk],
        )
        first, last = cursor.fetchone()
    assert "Avery" not in first and "Alpha" not in last
    portfolio.contact_a.refresh_from_db()
    assert (portfolio.contact_a.first_name, portfolio.contact_a.last_name) == ("Avery", "Alpha")


@pytest.mark.django_db
def test_nothing_identifying_in_str(portfolio: Portfolio) -> None:
    contact = portfolio.contact_a
    phone = contact.phones.get()
    for text in (str(contact), str(phone)):
        assert "Avery" not in text and "0123" not in text


@pytest.mark.django_db
def test_the_same_number_in_any_format_has_one_hash(portfolio: Portfolio) -> None:
    from campaigns.services import PhoneInput, phone_add

    again = phone_add(contact=portfolio.contact_a, phone=PhoneInput("+1 305.555.0123"))
    assert again.pk == portfolio.contact_a.phones.get().pk
