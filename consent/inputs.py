"""A consent as given, checked and shaped as it would be stored, writing nothing.

`ConsentInput` is the one input type of the consent services, the admin form
and the API; `consent_draft` checks it against the per-kind table and builds the
consent; `consent_content` is what a stored consent says, field by field of the
input, for telling a repeat from a new consent.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Contact, Program, Purpose
from common.crypto import keyed_hash
from common.phones import InvalidPhoneNumber, to_e164
from consent.models import Consent, ConsentKind, ConsentMethod

# A client's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class _KindRules:
    """What a kind of consent must carry, and may not."""

    method: str  # the method when none is given
    signed: bool  # given in writing and signed
    names_number: bool  # TCPA: names the number it allows calls to, for queue purposes
    part2: bool  # carries the elements of 42 CFR 2.31(a)
    purposes: bool  # carries purposes (a recording consent covers a call instead)
    of_a_call: bool  # belongs to one call (attempt_id)


# Per kind, the whole table of what `consent_draft` checks.
_KINDS: dict[str, _KindRules] = {
    ConsentKind.TCPA_EXPRESS: _KindRules(ConsentMethod.VERBAL, False, True, False, True, False),
    ConsentKind.TCPA_WRITTEN: _KindRules(ConsentMethod.WRITTEN, True, True, False, True, False),
    ConsentKind.PART2: _KindRules(ConsentMethod.WRITTEN, True, False, True, True, False),
    ConsentKind.RECORDING: _KindRules(ConsentMethod.VERBAL, False, False, False, False, True),
}
_QUEUE_PURPOSES = frozenset(p.value for p in Purpose)


class _Unset(enum.Enum):
    UNSET = "unset"


# `expires_at` left out (as opposed to an explicit None, "does not expire").
UNSET = _Unset.UNSET


@dataclass(frozen=True)
class ConsentInput:
    """A consent as given, under the API's names: the one input type of the services, the
    admin form and the API (`ConsentInput.of` takes any iterables as given)."""

    contact: Contact | None
    kind: str
    signed_at: datetime | None
    number: str = ""
    purposes: tuple[str, ...] = ()
    expires_at: datetime | _Unset | None = UNSET
    signature: str = ""
    recipients: tuple[str | Program, ...] = ()
    description: str = ""
    discloser: str = ""
    expiration_event: str = ""
    revocation_notice_given: bool = False
    method: str = ""
    attempt_id: int | None = None

    @classmethod
    def of(
        cls,
        *,
        purposes: Iterable[str] = (),
        recipients: Iterable[str | Program] = (),
        **fields: Any,
    ) -> ConsentInput:
        return cls(purposes=tuple(purposes or ()), recipients=tuple(recipients or ()), **fields)


@dataclass(frozen=True)
class ConsentDraft:
    consent: Consent
    recipient_programs: tuple[Program, ...]


def consent_draft(data: ConsentInput) -> ConsentDraft:
    """The consent as it would be stored, or ValidationError naming every bad field."""
    contact, kind, signed_at = data.contact, data.kind, data.signed_at
    number, purposes, expires_at = data.number, data.purposes, data.expires_at
    signature, recipients, description = data.signature, data.recipients, data.description
    discloser, expiration_event, method = data.discloser, data.expiration_event, data.method
    revocation_notice_given, attempt_id = data.revocation_notice_given, data.attempt_id
    errors: dict[str, str] = {}
    now = timezone.now()

    if contact is None:
        errors["contact"] = "The patient (contact) is required."
    if kind not in ConsentKind.values:
        errors["kind"] = f"Use one of: {', '.join(ConsentKind.values)}."
        raise ValidationError(errors)
    kind = ConsentKind(kind)
    rules = _KINDS[kind]
    is_part2 = rules.part2

    if not method:
        method = rules.method
    if method not in ConsentMethod.values:
        errors["method"] = f"Use one of: {', '.join(ConsentMethod.values)}."
    elif rules.signed and method != ConsentMethod.WRITTEN:
        errors["method"] = "This consent must be given in writing and signed."

    if signed_at is None:
        errors["signed_at"] = _part2_msg(is_part2, "The date of signature is required.", "9")
    elif timezone.is_naive(signed_at):
        errors["signed_at"] = "Give a time zone (ISO 8601 with an offset or Z)."
    elif signed_at > now + CLOCK_SKEW:
        errors["signed_at"] = "Cannot be in the future."

    e164 = ""
    number = (number or "").strip()
    if rules.names_number:
        if not number:
            errors["number"] = "A TCPA consent names the number it allows calls to."
        else:
            try:
                e164 = to_e164(number)
            except InvalidPhoneNumber as exc:
                errors["number"] = str(exc)
    elif number:
        errors["number"] = "Only TCPA consents name a number."

    queue_purposes, free_purposes = _split_purposes(purposes)
    if rules.names_number:
        if free_purposes:
            errors["purposes"] = f"Use only: {', '.join(sorted(_QUEUE_PURPOSES))}."
        elif not queue_purposes:
            errors["purposes"] = "Name at least one purpose the calls are for."
    elif is_part2 and not (queue_purposes or free_purposes):
        errors["purposes"] = _part2_msg(True, "The purpose of the disclosure is required.", "5")
    elif not rules.purposes and (queue_purposes or free_purposes):
        errors["purposes"] = "A recording consent covers a call, not purposes."

    signature = (signature or "").strip()
    if rules.signed and not signature:
        errors["signature"] = _part2_msg(is_part2, "The signature is required.", "8")

    expiration_event = (expiration_event or "").strip()
    expires_never = False
    if isinstance(expires_at, datetime):
        if timezone.is_naive(expires_at):
            errors["expires_at"] = "Give a time zone (ISO 8601 with an offset or Z)."
        elif signed_at is not None and not timezone.is_naive(signed_at) and expires_at <= signed_at:
            errors["expires_at"] = "Must be after the signature."
    if expiration_event.lower() == "none":
        expires_never, expiration_event = True, ""
    if is_part2:
        if expires_at is UNSET and not expiration_event and not expires_never:
            errors["expires_at"] = _part2_msg(
                True,
                "The expiration is required: a date (expires_at), an event (expiration_event),"
                ' or "none" stated explicitly (expires_at: null).',
                "7",
            )
        elif expires_at is None and not expiration_event:
            expires_never = True
    elif expiration_event or expires_never:
        errors["expiration_event"] = "Only a Part 2 consent carries an expiration event."

    program_recipients: list[Program] = []
    outside: list[str] = []
    description = (description or "").strip()
    discloser = (discloser or "").strip()
    if is_part2:
        program_recipients, outside = _resolve_recipients(recipients)
        if not (program_recipients or outside):
            errors["recipients"] = _part2_msg(
                True, "Name the recipients: programs of this portfolio or outside recipients.", "4"
            )
        if not description:
            errors["description"] = _part2_msg(
                True, "Describe the information that may be disclosed.", "3"
            )
        if not discloser and contact is not None:
            discloser = contact.program.legal_name
        if not discloser and contact is not None:
            errors["discloser"] = _part2_msg(True, "Name who may make the disclosure.", "2")
        if revocation_notice_given is not True:
            errors["revocation_notice_given"] = _part2_msg(
                True, "The patient must be told of the right to revoke, and how.", "6"
            )
        if len(discloser) > 200:
            errors["discloser"] = "At most 200 characters."
        if len(expiration_event) > 200:
            errors["expiration_event"] = "At most 200 characters."
    else:
        if list(recipients):
            errors["recipients"] = "Only a Part 2 consent names recipients."
        for name, value in (("description", description), ("discloser", discloser)):
            if value:
                errors[name] = "Only a Part 2 consent carries this element."
    if attempt_id is not None and not rules.of_a_call:
        errors["attempt_id"] = "Only a recording consent belongs to a call."

    if errors:
        raise ValidationError(errors)
    assert contact is not None and signed_at is not None
    consent = Consent(
        contact=contact,
        kind=kind,
        method=method,
        number=e164 or None,
        number_hash=keyed_hash(e164) if e164 else "",
        purposes=sorted(queue_purposes),
        other_purposes="\n".join(free_purposes) or None,
        signed_at=signed_at,
        expires_at=expires_at if isinstance(expires_at, datetime) else None,
        expiration_event=expiration_event,
        expires_never=expires_never,
        signature=signature or None,
        discloser=discloser,
        description=description or None,
        outside_recipients="\n".join(outside) or None,
        revocation_notice_given=bool(revocation_notice_given),
        attempt_id=attempt_id,
    )
    return ConsentDraft(consent, tuple(program_recipients))


def _part2_msg(is_part2: bool, message: str, element: str) -> str:
    return f"{message} (42 CFR 2.31(a)({element}))" if is_part2 else message


def _split_purposes(purposes: Iterable[str]) -> tuple[set[str], list[str]]:
    known: set[str] = set()
    free: list[str] = []
    for item in purposes or ():
        text = " ".join(str(item).split())
        if not text:
            continue
        if text.lower() in _QUEUE_PURPOSES:
            known.add(text.lower())
        elif text not in free:
            free.append(text)
    return known, free


def _resolve_recipients(recipients: Iterable[str | Program]) -> tuple[list[Program], list[str]]:
    """Program objects or slugs of this portfolio become programs; other names stay text."""
    items = list(recipients or ())
    names = {" ".join(i.split()) for i in items if isinstance(i, str)}
    by_slug = {p.slug: p for p in Program.objects.filter(slug__in=names)} if names else {}
    programs: dict[int, Program] = {}
    outside: list[str] = []
    for item in items:
        if isinstance(item, Program):
            programs[item.pk] = item
            continue
        text = " ".join(str(item).split())
        if not text:
            continue
        if text in by_slug:
            programs[by_slug[text].pk] = by_slug[text]
        elif text not in outside:
            outside.append(text[:200])
    return list(programs.values()), outside


# What each input field is stored as (given the consent's recipient programs' ids): two
# consents that read the same here say the same thing, however it was worded (when and
# how it was recorded do not count).
_STORED: dict[str, Callable[[Consent, tuple[int, ...]], object]] = {
    "contact": lambda c, _: c.contact_id,
    "kind": lambda c, _: c.kind,
    "signed_at": lambda c, _: c.signed_at,
    "number": lambda c, _: c.number or "",
    "purposes": lambda c, _: (tuple(sorted(c.purposes)), tuple(c.other_purpose_list)),
    "expires_at": lambda c, _: (c.expires_at, c.expires_never),
    "signature": lambda c, _: c.signature or "",
    "recipients": lambda c, programs: (programs, tuple(c.outside_recipient_list)),
    "description": lambda c, _: c.description or "",
    "discloser": lambda c, _: c.discloser,
    "expiration_event": lambda c, _: c.expiration_event,
    "revocation_notice_given": lambda c, _: c.revocation_notice_given,
    "method": lambda c, _: c.method,
    "attempt_id": lambda c, _: c.attempt_id,
}
assert set(_STORED) == {f.name for f in dataclasses.fields(ConsentInput)}, "_STORED lacks a field"


def consent_content(
    consent: Consent, *, programs: Iterable[Program] | None = None
) -> tuple[object, ...]:
    """Everything the person consented to, as recorded: one value per `ConsentInput` field.

    `programs`: the recipient programs of a consent not saved yet (a draft); a saved
    consent's are read (one query).
    """
    ids = (
        [p.pk for p in programs]
        if programs is not None
        else consent.recipient_programs.values_list("id", flat=True)
    )
    program_ids = tuple(sorted(ids))
    return tuple(stored(consent, program_ids) for stored in _STORED.values())
