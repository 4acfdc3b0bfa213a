"""Consent fixtures: an alum of program A with a number, and makers for each kind of consent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import Contact, PhoneNumber, Program
from campaigns.services import PhoneInput, contact_create
from consent.models import Consent
from consent.services import ConsentInput, consent_create
from tests.conftest import SYSTEM, Portfolio

ALUM_NUMBER = "+13055550150"
ALUM_NAME = ("Quinn", "Zephyrine")


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def alum(portfolio: Portfolio) -> Contact:
    return contact_create(
        program=portfolio.program_a,
        external_id="ALUM-1",
        first_name=ALUM_NAME[0],
        last_name=ALUM_NAME[1],
        state="FL",
        postal_code="33101",
        patient_status="former",
        phones=[PhoneInput(ALUM_NUMBER, "mobile", provided_by_patient=True)],
        actor=SYSTEM,
    )


def phone_of(contact: Contact) -> PhoneNumber:
    return contact.phones.get()


def part2(contact: Contact, /, *, recipients: list[Any] | None = None, **overrides: Any) -> Consent:
    """A complete Part 2 consent naming the contact's program for reactivation."""
    fields: dict[str, Any] = {
        "contact": contact,
        "kind": "part2",
        "signed_at": timezone.now() - timedelta(days=30),
        "purposes": ["reactivation", "reminder", "to stay in touch after discharge"],
        "expires_at": timezone.now() + timedelta(days=335),
        "signature": "/s/ signed on paper",
        "recipients": recipients if recipients is not None else [contact.program.slug],
        "description": "attendance and discharge date",
        "discloser": "",
        "revocation_notice_given": True,
    }
    fields.update(overrides)
    actor = fields.pop("actor", SYSTEM)
    return consent_create(data=ConsentInput.of(**fields), actor=actor)


def written(contact: Contact, /, number: str = ALUM_NUMBER, **overrides: Any) -> Consent:
    """Prior express written consent for reactivation calls to `number`."""
    fields: dict[str, Any] = {
        "contact": contact,
        "kind": "tcpa_written",
        "number": number,
        "purposes": ["reactivation"],
        "signed_at": timezone.now() - timedelta(days=30),
        "signature": "/s/ e-sign 4471",
    }
    fields.update(overrides)
    actor = fields.pop("actor", SYSTEM)
    return consent_create(data=ConsentInput.of(**fields), actor=actor)


def other_program(portfolio: Portfolio) -> Program:
    return portfolio.program_b
