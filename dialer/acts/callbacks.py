"""A callback request: the person asked to be called, so speed matters.

The task is decided at once (the answer to the CRM carries the first
decision) and its dispatch is queued when the transaction commits: no waiting
for the planner's next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record_many, audit_together
from campaigns.models import Contact, PhoneNumber, Program, Purpose, Queue
from campaigns.services import PhoneInput, contact_and_phones_create, phone_add
from common.crypto import keyed_hash
from common.rows import columns, instance, width
from dialer.decision.engine import Decision, decide
from dialer.models import CallTask, TaskOrigin
from dialer.refusals import refusal_event, verdict_of, verdict_set
from dialer.rows import TaskRow
from dialer.selectors import task_facts_many
from dialer.services import DuplicateOpenTask, task_build, task_insert


class CallbackError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_KNOWN = object()  # the number was written by this request (no stored token to decrypt)


@dataclass(frozen=True)
class CallbackResult:
    task: CallTask
    decision: Decision | None
    created: bool


# Read on every callback, so in plain SQL (no queryset to compile). Encrypted values a
# callback does not need are deferred: one that no key decrypts must not lose the lead
# (the number is known from its hash, or read as a token and refused by the decision,
# invalid_number, when it cannot be decrypted).
_PHONE_SKIP = ("number",)
_CONTACT_SKIP = ("first_name", "last_name")
_DEFAULT_QUEUE = (
    f"SELECT {columns(Queue, 'q')} FROM campaigns_queue q"  # noqa: S608 (model columns)
    " WHERE q.program_id = %s AND q.purpose = %s ORDER BY q.id LIMIT 1"
)
_PHONE_AND_CONTACT = (
    f"SELECT {columns(PhoneNumber, 'ph', _PHONE_SKIP)},"  # noqa: S608 (model columns)
    f" {columns(Contact, 'ct', _CONTACT_SKIP)}, ph.number::text"
    " FROM campaigns_phonenumber ph JOIN campaigns_contact ct ON ct.id = ph.contact_id"
)
_BY_NUMBER = (
    f"{_PHONE_AND_CONTACT} WHERE ct.program_id = %s AND ph.number_hash = %s ORDER BY ph.id LIMIT 1"
)
_FIRST_OF_CONTACT = f"{_PHONE_AND_CONTACT} WHERE ph.contact_id = %s ORDER BY ph.id LIMIT 1"


def default_callback_queue(program: Program) -> Queue | None:
    """The program's first callback queue, with the program attached."""
    row = _fetch_one(_DEFAULT_QUEUE, [program.pk, Purpose.CALLBACK.value])
    if row is None:
        return None
    queue = instance(Queue, row)
    queue.program = program
    return queue


def contact_for_phone(
    *, program: Program, e164: str
) -> tuple[Contact, PhoneNumber, str | None] | None:
    """The program's first holder of this number: the contact, the number and its stored
    token (decrypted when the task row is made: one no key decrypts is no number)."""
    return _phone_and_contact(_BY_NUMBER, [program.pk, keyed_hash(e164)])


def _first_phone(contact: Contact) -> tuple[PhoneNumber, str | None] | None:
    """The contact's first number and its stored token."""
    found = _phone_and_contact(_FIRST_OF_CONTACT, [contact.pk])
    if found is None:
        return None
    _, phone, token = found
    phone.contact = contact
    return phone, token


def _phone_and_contact(
    sql: str, params: list[Any]
) -> tuple[Contact, PhoneNumber, str | None] | None:
    row = _fetch_one(sql, params)
    if row is None:
        return None
    split = width(PhoneNumber, _PHONE_SKIP)
    phone = instance(PhoneNumber, row[:split], _PHONE_SKIP)
    contact = instance(Contact, row[split : split + width(Contact, _CONTACT_SKIP)], _CONTACT_SKIP)
    phone.contact = contact
    return contact, phone, row[-1]


def _fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def callback_request(
    *,
    program: Program,
    actor: str,
    origin: str,
    enqueue: Callable[[int], None],
    queue: Queue | None = None,
    phone: str | None = None,
    contact: Contact | None = None,
    requested_at: datetime | None = None,
    source: str = "",
    state: str = "",
    postal_code: str = "",
) -> CallbackResult:
    """Create (or find) the callback task, decide it, and dispatch it on commit.

    `phone` is E.164 already; with `contact`, its first number is called unless
    `phone` names another of its numbers.
    """
    queue = queue or default_callback_queue(program)
    if queue is None:
        raise CallbackError("queue", "This program has no callback queue.")
    if queue.program_id != program.pk:
        raise CallbackError("queue", "Unknown queue.")
    now = timezone.now()
    token: object = _KNOWN  # or the stored token (str or None)
    # Nested in the caller's transaction (dialer.acts.idempotency), an error here rolls
    # that back whole: no savepoint of its own is needed. Its events are written together.
    with transaction.atomic(savepoint=False), audit_together():
        if contact is None:
            if phone is None:
                raise CallbackError("phone", "Give a phone or a contact.")
            found = contact_for_phone(program=program, e164=phone)
            if found is None:
                contact, phones = contact_and_phones_create(
                    program=program,
                    phones=[PhoneInput(phone)],
                    actor=actor,
                    state=state,
                    postal_code=postal_code,
                )
                number = phones[0]
            else:
                contact, number, token = found
        elif phone is not None:
            number = phone_add(contact=contact, phone=PhoneInput(phone))
        else:
            first = _first_phone(contact)
            if first is None:
                raise CallbackError("contact", "This contact has no phone number.")
            number, token = first
        task = task_build(
            contact=contact,
            phone=number,
            queue=queue,
            origin=TaskOrigin(origin),
            source=source,
            requested_at=requested_at or now,
        )
        if token is not _KNOWN:
            task.phone_token = token  # type: ignore[attr-defined]  # read by TaskRow.of
        # Decided before it is saved, and saved as the planner would write the decision
        # back: allowed, callable now; refused, wait or end (one INSERT, no UPDATE).
        decision = decide(
            task_facts_many([TaskRow.of(task)], at=now, queues={queue.pk: queue})[0], now
        )
        verdict = verdict_of(decision, now=now, allowed_until=now)
        assert verdict is not None  # with allowed_until, every decision has a verdict
        verdict_set(task, verdict)
        try:
            task_insert(task, actor=actor)
        except DuplicateOpenTask as dup:
            return CallbackResult(dup.existing, None, created=False)
        if verdict.ended:
            audit_record_many(
                [refusal_event(task_id=task.pk, program_id=program.pk, decision=decision)]
            )
        if decision.allowed:
            transaction.on_commit(lambda: enqueue(task.pk))
    return CallbackResult(task, decision, created=True)
