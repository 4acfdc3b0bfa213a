"""The decision's consent facts: per (contact, number), in two queries for any batch."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.models import Contact
from campaigns.services import PhoneInput, contact_create, phone_add
from consent.selectors import ConsentFact, consent_facts_for, consent_facts_for_pairs
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import ALUM_NUMBER, part2, written

SECOND = "+13055550151"


@pytest.mark.django_db
def test_it_keys_facts_by_contact_and_number_and_covers_only_the_named_number(
    portfolio: Portfolio, alum: Contact
) -> None:
    phone_add(contact=alum, phone=PhoneInput(SECOND))
    tcpa = written(alum)
    consent = part2(alum, recipients=["prog-a", "prog-b"])
    facts = consent_facts_for(contact_ids=[alum.pk], numbers=[ALUM_NUMBER, SECOND])
    assert set(facts) == {(alum.pk, ALUM_NUMBER), (alum.pk, SECOND)}
    on_first = {f.id: f for f in facts[(alum.pk, ALUM_NUMBER)]}
    on_second = {f.id: f for f in facts[(alum.pk, SECOND)]}
    assert isinstance(on_first[tcpa.pk], ConsentFact)
    assert on_first[tcpa.pk].covers_number and not on_second[tcpa.pk].covers_number
    assert on_first[consent.pk].covers_number and on_second[consent.pk].covers_number
    assert on_first[tcpa.pk].recipient_program_ids == {portfolio.program_a.pk}
    assert on_first[consent.pk].recipient_program_ids == {
        portfolio.program_a.pk,
        portfolio.program_b.pk,
    }
    fact = on_first[consent.pk]
    assert fact.kind == "part2" and fact.purposes == {"reactivation", "reminder"}
    assert fact.active_at(timezone.now()) and fact.revoked_at is None


@pytest.mark.django_db
def test_it_reads_any_batch_in_two_queries(
    portfolio: Portfolio, alum: Contact, django_assert_num_queries: object
) -> None:
    contacts = [alum]
    for i in range(5):
        number = f"+1305555016{i}"
        contact = contact_create(
            program=portfolio.program_a,
            phones=[PhoneInput(number)],
            patient_status="former",
            actor=SYSTEM,
        )
        written(contact, number=number)
        part2(contact)
        contacts.append(contact)
    written(alum)
    numbers = [ALUM_NUMBER] + [f"+1305555016{i}" for i in range(5)]
    with django_assert_num_queries(2):  # type: ignore[operator]
        facts = consent_facts_for(contact_ids=[c.pk for c in contacts], numbers=numbers)
    assert len(facts) == 6
    assert all(len(v) in (1, 2) for v in facts.values())


@pytest.mark.django_db
def test_a_contact_without_consents_has_no_key_and_costs_one_query(
    portfolio: Portfolio, django_assert_num_queries: object
) -> None:
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert (
            consent_facts_for(contact_ids=[portfolio.contact_a.pk], numbers=["+13055550123"]) == {}
        )


@pytest.mark.django_db
def test_without_numbers_it_uses_every_number_of_the_contact(alum: Contact) -> None:
    phone_add(contact=alum, phone=PhoneInput(SECOND))
    written(alum)
    assert set(consent_facts_for(contact_ids=[alum.pk])) == {
        (alum.pk, ALUM_NUMBER),
        (alum.pk, SECOND),
    }


@pytest.mark.django_db
def test_pairs_work_for_a_number_not_yet_on_file(alum: Contact) -> None:
    written(alum, number=SECOND)
    facts = consent_facts_for_pairs(pairs=[(alum.pk, SECOND)])
    assert [f.covers_number for f in facts[(alum.pk, SECOND)]] == [True]


@pytest.mark.django_db
def test_an_unsaved_contact_has_no_consents(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert consent_facts_for(contact_ids=[None], numbers=["+13055550123"]) == {}
