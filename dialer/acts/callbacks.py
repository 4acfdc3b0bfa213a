"""A callback request: the person asked to be called, so speed matters.

The task is decided at once (the answer to the CRM carries the first
decision) and its dispatch is queued when the transaction commits: no waiting
for the planner's next tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from common.together import Statement, fetch_all, fetch_together
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


# A callback's statements read and write a row or a few, with the same plan whatever the
# values: PostgreSQL's default, for a prepared statement, is to plan it again for each
# set of values while a generic plan looks costlier on paper, and for the facts' reads
# (registry partitions, attempts, consents) that planning is most of their database
# CPU (about 1 ms of a callback's 2). For the rest of the transaction, plan once. Not
# without prepared statements (DB_PREPARE_THRESHOLD=0): a generic plan made afresh for
# each statement costs more than a custom one (every registry partition, planned).
_GENERIC_PLANS = Statement("SET LOCAL plan_cache_mode = force_generic_plan", [])


def _plans() -> dict[str, Statement]:
    prepared = connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None
    return {"plans": _GENERIC_PLANS} if prepared else {}


def _queue_and_holder(
    *, program: Program, queue: Queue | None, phone: str | None
) -> tuple[Queue | None, tuple[Contact, PhoneNumber, str | None] | None]:
    """The program's first callback queue (unless `queue` is given), and the program's
    first holder of `phone` (when given) with its stored token, read in one round trip
    in the caller's transaction, which plans generic from here on (_GENERIC_PLANS)."""
    reads = _plans()
    if queue is None:
        reads["queue"] = Statement(_DEFAULT_QUEUE, [program.pk, Purpose.CALLBACK.value])
    if phone is not None:
        reads["holder"] = Statement(_BY_NUMBER, [program.pk, keyed_hash(phone)])
    rows = fetch_together(reads)
    if rows.get("queue"):
        queue = instance(Queue, rows["queue"][0])
        queue.program = program
    holder = rows.get("holder")
    return queue, _phone_and_contact(holder[0]) if holder else None


def _first_phone(contact: Contact) -> tuple[PhoneNumber, str | None] | None:
    """The contact's first number and its stored token."""
    rows = fetch_all(Statement(_FIRST_OF_CONTACT, [contact.pk]))
    if not rows:
        return None
    _, phone, token = _phone_and_contact(rows[0])
    phone.contact = contact
    return phone, token


def _phone_and_contact(row: Sequence[Any]) -> tuple[Contact, PhoneNumber, str | None]:
    split = width(PhoneNumber, _PHONE_SKIP)
    phone = instance(PhoneNumber, row[:split], _PHONE_SKIP)
    contact = instance(Contact, row[split : split + width(Contact, _CONTACT_SKIP)], _CONTACT_SKIP)
    phone.contact = contact
    return contact, phone, row[-1]


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
    now = timezone.now()
    token: object = _KNOWN  # or the stored token (str or None)
    created = False  # whether the contact is made here
    # Nested in the caller's transaction (dialer.acts.idempotency), an error here rolls
    # that back whole: no savepoint of its own is needed. Its events are written together.
    with transaction.atomic(savepoint=False), audit_together():
        queue, found = _queue_and_holder(
            program=program, queue=queue, phone=phone if contact is None else None
        )
        if queue is None:
            raise CallbackError("queue", "This program has no callback queue.")
        if queue.program_id != program.pk:
            raise CallbackError("queue", "Unknown queue.")
        if contact is None:
            if phone is None:
                raise CallbackError("phone", "Give a phone or a contact.")
            if found is None:
                contact, phones = contact_and_phones_create(
                    program=program,
                    phones=[PhoneInput(phone)],
                    actor=actor,
                    state=state,
                    postal_code=postal_code,
                )
                number, created = phones[0], True
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
        facts = task_facts_many(
            [TaskRow.of(task)],
            at=now,
            queues={queue.pk: queue},
            new_contacts=(contact.pk,) if created else (),
        )
        decision = decide(facts[0], now)
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
