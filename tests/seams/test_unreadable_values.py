"""An unreadable value blocks (issue 13, item 7).

A value that no configured key decrypts (a SECRET_KEY changed without its
fallback, a key dropped too early) is written here the way such rows look:
a Fernet token under a key this process does not have. It must never pass for
a value: an internal DNC entry keeps listing its number (by its keyed hash), a
phone number blocks its call, and neither the token nor the number shows in
an answer, a decision or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.db import connection
from django.test import TestCase
from psycopg import sql

from campaigns.models import Contact, PhoneNumber
from campaigns.services import PhoneInput, contact_create
from common.fields import UnreadableValue
from dialer.models import CallAttempt, CallTask
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.planner import plan_queue
from dnc.selectors import dnc_status_many
from dnc.services import internal_dnc_add
from tests.api.conftest import api_client
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, open_queue

LISTED = "+13055550123"  # contact A's number (tests.conftest)
OTHER = "+13055550177"


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=False):
        yield


def _under_another_key(table: str, pk: int, clear: str, column: str = "number") -> str:
    """Rewrite one row's column as a token of a key this process does not have."""
    token = Fernet(Fernet.generate_key()).encrypt(clear.encode()).decode()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("UPDATE {} SET {} = %s WHERE id = %s")
            .format(sql.Identifier(table), sql.Identifier(column))
            .as_string(cursor.connection),
            [token, pk],
        )
    return token


def _other_contact(portfolio: Portfolio) -> Contact:
    return contact_create(
        program=portfolio.program_a,
        state="FL",
        postal_code="33101",
        phones=[PhoneInput(OTHER, provided_by_patient=True)],
        actor=SYSTEM,
    )


def _codes(task: CallTask) -> set[str]:
    task.refresh_from_db()
    return {reason["code"] for reason in (task.last_decision or {}).get("reasons", [])}


def _plan(portfolio: Portfolio) -> list[int]:
    planned: list[int] = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        plan_queue(queue_id=portfolio.callback_a.pk, enqueue=planned.extend)
    return planned


@pytest.mark.django_db
def test_an_internal_dnc_entry_written_under_another_key_still_blocks(
    portfolio: Portfolio, monday: None, caplog: pytest.LogCaptureFixture
) -> None:
    queue = open_queue(portfolio.callback_a)
    listed = new_task(queue, portfolio.contact_a)
    other = new_task(queue, _other_contact(portfolio))
    entry, _ = internal_dnc_add(
        number_e164=LISTED, source="api", note="", actor=SYSTEM, program_id=None
    )
    token = _under_another_key("dnc_internaldncentry", entry.pk, LISTED)

    # The bulk check (planner, scrubs) answers by the entry's keyed hash.
    statuses = dnc_status_many(numbers=[LISTED, OTHER])
    assert statuses[LISTED].internal is True
    assert statuses[OTHER].internal is False

    # The planner decides both in one batch: the listed number is refused for it.
    planned = _plan(portfolio)
    assert planned == [other.pk]
    assert "internal_dnc" in _codes(listed)
    assert token not in caplog.text and LISTED not in caplog.text


@pytest.mark.django_db
def test_a_phone_number_no_key_decrypts_is_refused_by_the_planner(
    portfolio: Portfolio, monday: None, caplog: pytest.LogCaptureFixture
) -> None:
    queue = open_queue(portfolio.callback_a)
    unreadable = new_task(queue, portfolio.contact_a)
    readable = new_task(queue, _other_contact(portfolio))
    token = _under_another_key("campaigns_phonenumber", unreadable.phone_id, LISTED)

    planned = _plan(portfolio)

    # One unreadable row blocks its own call, not the batch.
    assert planned == [readable.pk]
    assert "invalid_number" in _codes(unreadable)
    shown = json.dumps(unreadable.last_decision) + caplog.text
    assert token not in shown and LISTED not in shown


@pytest.mark.django_db
def test_a_phone_number_no_key_decrypts_blocks_its_callback_and_is_never_shown(
    portfolio: Portfolio, monday: None, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    task = new_task(open_queue(portfolio.callback_a), portfolio.contact_a)
    token = _under_another_key("campaigns_phonenumber", task.phone_id, LISTED)

    # Read as a model: an error naming the field, neither the token nor a number.
    with pytest.raises(UnreadableValue) as raised:
        PhoneNumber.objects.get(pk=task.phone_id)
    assert str(raised.value) == (
        "campaigns.PhoneNumber.number: no configured key decrypts the stored value"
    )

    # Dispatch (a callback's, on commit) refuses it: nothing is placed.
    assert dispatch_task(task_id=task.pk).status == "refused"
    assert "invalid_number" in _codes(task)
    assert not CallAttempt.objects.filter(task=task).exists()

    # Eligibility of the contact on file: refused, never allowed.
    crm = api_client(tokens["crm_a"])
    answer = crm.post(
        "/api/v1/eligibility/",
        {"queue": portfolio.callback_a.slug, "contact": portfolio.contact_a.pk},
        content_type="application/json",
    )
    assert answer.status_code == 200
    decision: dict[str, Any] = answer.json()
    assert decision["allowed"] is False
    assert "invalid_number" in {r["code"] for r in decision["reasons"]}

    # The CRM is told the value cannot be read, and is never sent the token as a number.
    shown = crm.get(f"/api/v1/contacts/{portfolio.contact_a.pk}/")
    assert shown.status_code == 500
    assert shown.json()["error"]["code"] == "unreadable_value"
    assert "campaigns.PhoneNumber.number" in shown.json()["error"]["message"]

    texts = [answer.content.decode(), shown.content.decode(), json.dumps(task.last_decision)]
    for text in [*texts, caplog.text]:
        assert token not in text and LISTED not in text


@pytest.mark.django_db
def test_a_callback_for_a_number_on_file_that_no_key_decrypts_is_kept_and_refused(
    portfolio: Portfolio, monday: None, tokens: dict[str, str]
) -> None:
    open_queue(portfolio.callback_a)
    contact = portfolio.contact_a
    phone = contact.phones.get()
    token = _under_another_key("campaigns_phonenumber", phone.pk, LISTED)
    _under_another_key("campaigns_contact", contact.pk, "Avery", column="first_name")

    answer = api_client(tokens["crm_a"]).post(
        "/api/v1/callbacks/", {"phone": LISTED}, content_type="application/json"
    )

    # The lead is kept (the CRM is not told to retry a request it cannot fix) and refused.
    assert answer.status_code == 201, answer.content
    task = CallTask.objects.get(pk=answer.json()["task"]["id"])
    assert (task.contact_id, task.phone_id) == (contact.pk, phone.pk)
    assert answer.json()["decision"]["allowed"] is False
    assert "invalid_number" in {r["code"] for r in answer.json()["decision"]["reasons"]}
    assert token not in answer.content.decode()
