"""Writes to programs, queues, scripts and contacts; each act audited in its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytz
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from campaigns.models import (
    ALL_DAYS,
    PATIENT_STATUS_ORDER,
    WORK_DAYS,
    Contact,
    LineType,
    PatientStatus,
    PhoneNumber,
    Program,
    Purpose,
    Queue,
    Script,
    patient_status_stricter,
)
from common.crypto import keyed_hash
from common.phones import InvalidPhoneNumber, line_type, to_e164
from common.rows import insert, insert_with


def program_create(
    *,
    slug: str,
    legal_name: str,
    state: str,
    timezone: str | None = None,
    neutral_name: str = "",
    caller_id_number: str = "",
    actor: str,
) -> Program:
    state = state.upper()
    if timezone is None:
        timezone = _default_timezone(state)
    if timezone not in pytz.all_timezones_set:
        raise ValidationError({"timezone": "Unknown IANA time zone."})
    program = Program(
        slug=slug,
        legal_name=legal_name,
        state=state,
        timezone=timezone,
        neutral_name=neutral_name or slug.replace("-", " ").title()[:15],
        caller_id_number=to_e164(caller_id_number) if caller_id_number else "",
        business_days=ALL_DAYS,
    )
    program.full_clean()
    with transaction.atomic():
        program.save()
        audit_record(
            actor=actor,
            action="program.created",
            object_type="program",
            object_id=program.pk,
            program_id=program.pk,
            data={"slug": slug, "state": state, "timezone": timezone},
        )
    return program


def _default_timezone(state: str) -> str:
    import us

    found = us.states.lookup(state)
    if found is None:
        raise ValidationError({"state": "Unknown US state code."})
    # The state's first listed zone is where most of its people live.
    return str(found.time_zones[0])


def queue_create(
    *,
    program: Program,
    slug: str,
    name: str,
    purpose: str,
    script: str,
    actor: str,
    window_start: time = time(9, 0),
    window_end: time = time(20, 0),
    days: Iterable[int] | None = None,
    max_attempts: int = 3,
    retry_minutes: int = 240,
    active: bool = True,
    recording_disclosure: str | None = None,
    remind_before_hours: int = 24,
) -> Queue:
    queue = Queue(
        program=program,
        slug=slug,
        name=name,
        purpose=Purpose(purpose),
        window_start=window_start,
        window_end=window_end,
        days=sorted(set(days)) if days is not None else list(WORK_DAYS),
        max_attempts=max_attempts,
        retry_minutes=retry_minutes,
        remind_before_hours=remind_before_hours,
        active=active,
    )
    queue.full_clean(exclude=["current_script"])
    with transaction.atomic():
        queue.save()
        script_publish(
            queue=queue, body=script, actor=actor, recording_disclosure=recording_disclosure
        )
        audit_record(
            actor=actor,
            action="queue.created",
            object_type="queue",
            object_id=queue.pk,
            program_id=program.pk,
            data={"slug": slug, "purpose": purpose},
        )
    return queue


def script_publish(
    *, queue: Queue, body: str, actor: str, recording_disclosure: str | None = None
) -> Script:
    """A new immutable version becomes the queue's current script."""
    if not body.strip():
        raise ValidationError({"script": "The script cannot be empty."})
    with transaction.atomic():
        last = Script.objects.select_for_update().filter(queue=queue).order_by("-version").first()
        fields: dict[str, Any] = {"queue": queue, "version": (last.version + 1) if last else 1}
        fields["body"] = body
        if recording_disclosure:
            fields["recording_disclosure"] = recording_disclosure
        elif last is not None:
            fields["recording_disclosure"] = last.recording_disclosure
        script = Script.objects.create(**fields)
        Queue.objects.filter(pk=queue.pk).update(current_script=script)
        queue.current_script = script
        audit_record(
            actor=actor,
            action="script.published",
            object_type="script",
            object_id=script.pk,
            program_id=queue.program_id,
            data={"queue": queue.slug, "version": script.version},
        )
    return script


def script_mark_promotional(*, script: Script, promotional: bool, actor: str) -> Script:
    """A manager's review: is this script promotional (more than the appointment itself)?

    The flag is a judgment about the text, not the text: it may change on a
    version already used, so it is written past the model's immutability guard.
    """
    with transaction.atomic():
        Script.objects.filter(pk=script.pk).update(promotional=promotional)
        script.promotional = promotional
        audit_record(
            actor=actor,
            action="script.marked_promotional" if promotional else "script.marked_not_promotional",
            object_type="script",
            object_id=script.pk,
            program_id=script.queue.program_id,
            data={"queue": script.queue.slug, "version": script.version},
        )
    return script


@dataclass(frozen=True)
class PhoneInput:
    number: str
    line_type: str | None = None
    provided_by_patient: bool = False


def contact_create(
    *,
    program: Program,
    phones: Iterable[PhoneInput],
    actor: str,
    external_id: str = "",
    first_name: str = "",
    last_name: str = "",
    state: str = "",
    postal_code: str = "",
    patient_status: str = "none",
) -> Contact:
    """Create a contact and its numbers; a bad number refuses the whole contact."""
    contact, _ = contact_and_phones_create(
        program=program,
        phones=phones,
        actor=actor,
        external_id=external_id,
        first_name=first_name,
        last_name=last_name,
        state=state,
        postal_code=postal_code,
        patient_status=patient_status,
    )
    return contact


def contact_and_phones_create(
    *,
    program: Program,
    phones: Iterable[PhoneInput],
    actor: str,
    external_id: str = "",
    first_name: str = "",
    last_name: str = "",
    state: str = "",
    postal_code: str = "",
    patient_status: str = "none",
) -> tuple[Contact, list[PhoneNumber]]:
    """`contact_create`, answering the numbers created too (each number once)."""
    normalized = _phones_normalized(phones)
    contact = Contact(
        program=program,
        external_id=external_id,
        first_name=first_name,
        last_name=last_name,
        state=state.upper(),
        postal_code=postal_code,
        patient_status=patient_status,
    )
    # The program is a saved row (its foreign key is checked by PostgreSQL); the one
    # constraint, external_id per program, cannot be broken by a blank external_id.
    contact.full_clean(
        exclude=["program"], validate_unique=False, validate_constraints=bool(external_id)
    )
    unique: dict[str, PhoneInput] = {}  # a number given twice is kept once, as first given
    for phone in normalized:
        unique.setdefault(phone.number, phone)
    # In a caller's transaction, no savepoint: a failure here fails that transaction
    # whole (the contact, its numbers and its event are kept or lost with its work).
    created = [_phone(contact=contact, e164=e164, phone=phone) for e164, phone in unique.items()]
    with transaction.atomic(savepoint=False):
        insert_with(contact, created, link="contact")  # one statement: every new callback
        audit_record(
            actor=actor,
            action="contact.created",
            object_type="contact",
            object_id=contact.pk,
            program_id=program.pk,
            data={"phones": len(normalized), "patient_status": patient_status},
        )
    return contact, created


def phone_add(*, contact: Contact, phone: PhoneInput) -> PhoneNumber:
    e164 = to_e164(phone.number)
    existing = PhoneNumber.objects.filter(contact=contact, number_hash=keyed_hash(e164)).first()
    if existing is not None:
        return existing
    number = _phone(contact=contact, e164=e164, phone=phone)
    insert(number)
    return number


def _phone(*, contact: Contact, e164: str, phone: PhoneInput) -> PhoneNumber:
    """A new number of `contact`, to be written in plain SQL as `PhoneNumber.objects.create`
    would write it (its `save` only derives the hash and exchange)."""
    number = PhoneNumber(
        contact=contact,
        number=e164,
        line_type=phone.line_type or LineType.UNKNOWN,
        provided_by_patient=phone.provided_by_patient,
    )
    number.derive()
    return number


def contact_update(
    *,
    contact: Contact,
    actor: str,
    patient_status: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    phones: Iterable[PhoneInput] = (),
) -> Contact:
    """Change what is known of a contact; its patient status may only become stricter.

    1. Normalise the new numbers first: a bad one refuses the whole change.
    2. Lock the contact's row and read its status as committed.
    3. A status lower than the one on file is refused, naming `patient_status`
       (lowering is `contact_patient_status_lower`, a compliance officer's act).
    4. Set the state and ZIP code given (blank or None: unchanged), add the
       numbers, and write one audit event naming what changed.
    """
    normalized = _phones_normalized(phones)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        changed: list[str] = []
        before = contact.patient_status
        if patient_status:
            if patient_status not in PatientStatus.values:
                raise ValidationError({"patient_status": _status_choices()})
            if patient_status_stricter(before, patient_status) != patient_status:
                raise ValidationError(
                    {
                        "patient_status": "Can only become stricter (none, current, former); "
                        "a compliance officer may lower it in the admin."
                    }
                )
            if patient_status != before:
                contact.patient_status = patient_status
                changed.append("patient_status")
        for name, value in (("state", (state or "").upper()), ("postal_code", postal_code or "")):
            if value and value != getattr(contact, name):
                setattr(contact, name, value)
                changed.append(name)
        contact.full_clean(validate_unique=False)
        contact.save()
        known = set(contact.phones.values_list("number_hash", flat=True))
        added = [p for p in normalized if keyed_hash(p.number) not in known]
        for phone in added:
            phone_add(contact=contact, phone=phone)
        audit_record(
            actor=actor,
            action="contact.changed",
            object_type="contact",
            object_id=contact.pk,
            program_id=contact.program_id,
            data={
                "fields": changed,
                "phones_added": len(added),
                "patient_status": [before, contact.patient_status],
            },
        )
    return contact


def contact_patient_status_lower(
    *, contact_id: int, patient_status: str, reason: str, actor: str
) -> Contact:
    """Lower a contact's patient status: a compliance officer's correction, with a reason.

    The only way a status goes down (every other write goes through
    `patient_status_stricter`); audited with both statuses and the reason.
    """
    if patient_status not in PatientStatus.values:
        raise ValidationError({"patient_status": _status_choices()})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the status is lowered."})
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact_id)
        before = contact.patient_status
        if patient_status_stricter(before, patient_status) != before or patient_status == before:
            raise ValidationError({"patient_status": "Choose a status lower than the one on file."})
        contact.patient_status = patient_status
        contact.save(update_fields=["patient_status"])
        audit_record(
            actor=actor,
            action="contact.patient_status_lowered",
            object_type="contact",
            object_id=contact.pk,
            program_id=contact.program_id,
            reason=reason,
            data={"patient_status": [before, patient_status]},
        )
    return contact


def _status_choices() -> str:
    return f"Use one of: {', '.join(str(s.value) for s in PATIENT_STATUS_ORDER)}."


def _phones_normalized(phones: Iterable[PhoneInput]) -> list[PhoneInput]:
    normalized: list[PhoneInput] = []
    for index, phone in enumerate(phones):
        try:
            e164 = to_e164(phone.number)
        except InvalidPhoneNumber as exc:
            raise ValidationError({f"phones[{index}].number": str(exc)}) from None
        normalized.append(
            PhoneInput(e164, phone.line_type or line_type(e164), phone.provided_by_patient)
        )
    return normalized


QUEUE_EDITABLE = frozenset(
    {
        "name",
        "window_start",
        "window_end",
        "days",
        "max_attempts",
        "retry_minutes",
        "remind_before_hours",
        "active",
    }
)


def queue_update(*, queue: Queue, actor: str, script: str | None = None, **fields: Any) -> Queue:
    """Change a queue's settings; a new script text publishes a new version."""
    unknown = set(fields) - QUEUE_EDITABLE
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(queue, name, sorted(set(value)) if name == "days" else value)
    queue.full_clean(exclude=["current_script"])
    with transaction.atomic():
        queue.save()
        if script is not None and (
            queue.current_script is None or script != queue.current_script.body
        ):
            script_publish(queue=queue, body=script, actor=actor)
        audit_record(
            actor=actor,
            action="queue.changed",
            object_type="queue",
            object_id=queue.pk,
            program_id=queue.program_id,
            data={"fields": sorted(fields) + (["script"] if script is not None else [])},
        )
    return queue
