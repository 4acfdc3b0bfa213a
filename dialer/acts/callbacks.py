"""A callback request: the person asked to be called, so speed matters.

The task is decided at once (the answer to the CRM carries the first
decision) and its dispatch is queued when the transaction commits: no waiting
for the planner's next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record_many
from campaigns.models import Contact, PhoneNumber, Program, Purpose, Queue
from campaigns.services import PhoneInput, contact_create, phone_add
from common.crypto import keyed_hash
from common.fields import token_of
from dialer.decision.engine import Decision, decide
from dialer.models import CallTask, TaskOrigin
from dialer.refusals import decisions_apply
from dialer.rows import TaskRow
from dialer.selectors import task_facts_many
from dialer.services import DuplicateOpenTask, task_create


class CallbackError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CallbackResult:
    task: CallTask
    decision: Decision | None
    created: bool


def default_callback_queue(program: Program) -> Queue | None:
    return program.queues.filter(purpose=Purpose.CALLBACK).order_by("id").first()


# Encrypted values a callback does not need: one that no key decrypts must not lose
# the lead (the decision reads the number's token and refuses it, invalid_number).
_NOT_READ = ("contact__first_name", "contact__last_name")


def contact_for_phone(*, program: Program, e164: str) -> tuple[Contact, PhoneNumber] | None:
    phone = (
        PhoneNumber.objects.filter(contact__program=program, number_hash=keyed_hash(e164))
        .select_related("contact")
        .defer("number", *_NOT_READ)
        .order_by("id")
        .first()
    )
    return (phone.contact, phone) if phone else None


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
    with transaction.atomic():
        if contact is None:
            if phone is None:
                raise CallbackError("phone", "Give a phone or a contact.")
            found = contact_for_phone(program=program, e164=phone)
            if found is None:
                contact = contact_create(
                    program=program,
                    phones=[PhoneInput(phone)],
                    actor=actor,
                    state=state,
                    postal_code=postal_code,
                )
                number = contact.phones.get()
            else:
                contact, number = found
        elif phone is not None:
            number = phone_add(contact=contact, phone=PhoneInput(phone))
        else:
            first = contact.phones.defer("number").order_by("id").first()
            if first is None:
                raise CallbackError("contact", "This contact has no phone number.")
            number = first
        try:
            task = task_create(
                contact=contact,
                phone=number,
                queue=queue,
                origin=TaskOrigin(origin),
                actor=actor,
                source=source,
                requested_at=requested_at or now,
            )
        except DuplicateOpenTask as dup:
            return CallbackResult(dup.existing, None, created=False)
        task = (
            CallTask.objects.select_related("contact", "phone", "queue__program")
            .defer("phone__number", *_NOT_READ)
            .annotate(phone_token=token_of("phone__number"))
            .get(pk=task.pk)
        )
        row = TaskRow.of(task)
        decision = decide(task_facts_many([row], at=now)[0], now)
        # Written back as the planner would: allowed, callable now; refused, wait or end.
        applied = decisions_apply(rows=[row], decisions=[decision], now=now, allowed_until=now)
        audit_record_many(applied.events)
        (verdict,) = applied.verdicts
        task.status, task.last_decision = verdict.status, decision.to_dict()
        task.next_attempt_at = verdict.next_attempt_at or task.next_attempt_at
        task.closed_reason = verdict.closed_reason
        if decision.allowed:
            transaction.on_commit(lambda: enqueue(task.pk))
    return CallbackResult(task, decision, created=True)
