"""common.rows: a contact and its numbers written in one statement, as the ORM would."""

from __future__ import annotations

import pytest

from campaigns.models import Contact, PhoneNumber
from campaigns.services import PhoneInput, contact_and_phones_create
from common.crypto import keyed_hash
from tests.conftest import Portfolio

pytestmark = pytest.mark.django_db


def test_a_contact_and_its_numbers_are_one_statement_read_back_as_written(
    portfolio: Portfolio, django_assert_num_queries: object
) -> None:
    numbers = ["+13055550101", "+13055550102", "+13055550103"]
    with django_assert_num_queries(2):  # type: ignore[operator]  # the rows, their event
        contact, phones = contact_and_phones_create(
            program=portfolio.program_a,
            phones=[PhoneInput(n, provided_by_patient=i == 1) for i, n in enumerate(numbers)],
            actor="system:test",
            first_name="Pat",
            state="fl",
        )
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.first_name, stored.state) == ("Pat", "FL")
    # Each number under its own id, in the order given, keyed to the new contact.
    assert [p.pk for p in phones] == sorted(p.pk for p in phones)
    for phone, number in zip(phones, numbers, strict=True):
        row = PhoneNumber.objects.get(pk=phone.pk)
        assert (row.contact_id, row.number, row.number_hash) == (
            contact.pk,
            number,
            keyed_hash(number),
        )
        assert phone.contact_id == contact.pk and not phone._state.adding
    assert [p.provided_by_patient for p in phones] == [False, True, False]


def test_a_contact_without_numbers_is_written_alone(portfolio: Portfolio) -> None:
    contact, phones = contact_and_phones_create(
        program=portfolio.program_a, phones=[], actor="system:test"
    )
    assert phones == [] and Contact.objects.filter(pk=contact.pk).exists()
