"""Reading consents: the decision's facts in bulk, one human answer, and disclosures.

`consent_facts_for` feeds the pure decision (dialer.decision); `coverage_of`
applies the same consent rules (Part 2, revocation, the queue's consent basis)
over those facts for one call and says why in words, for the admin and the
alumni import. Tests hold the two to the same answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.models import Contact, PhoneNumber, Program, Purpose
from common.crypto import keyed_hash
from common.phones import InvalidPhoneNumber, mask, to_e164
from common.together import Statement, bigint_array, fetch_all, joined
from consent.coverage import CONSENT_MISSING, Blocker, consent_coverage
from consent.facts import ConsentFact
from consent.models import NUMBER_KINDS, Consent, ConsentKind, Disclosure
from consent.services import DISCLOSURE_ACCOUNTING_PERIOD

__all__ = [
    "Blocker",
    "ConsentFact",
    "Coverage",
    "consent_allows",
    "consent_covering",
    "consent_facts_for",
    "consent_facts_for_pairs",
    "consent_facts_from",
    "consent_rows_statement",
    "consent_state",
    "coverage_of",
    "disclosures_for_patient",
]

INVALID_NUMBER = "invalid_number"

FactKey = tuple[int, str]  # (contact id, E.164 number called)
_Row = tuple[
    int, int, str, str, list[str], datetime, datetime | None, datetime | None, list[int], int
]


# --- Facts for the decision ------------------------------------------------------------------


def consent_facts_for(
    *, contact_ids: Iterable[int | None], numbers: Iterable[str | None] | None = None
) -> dict[FactKey, tuple[ConsentFact, ...]]:
    """Every consent of these contacts as decision facts, per (contact id, E.164 number).

    `covers_number` depends on the number called, so the facts are keyed by the
    pair; a key exists for each number (of `numbers`, or all when None) that is
    one of the contact's phones, when the contact has any consent. A missing
    key means "no consent at all" (as for an unsaved contact, id None).
    Two queries, whatever the batch size:
    1. the contacts' consents, with recipient program ids aggregated;
    2. which of the numbers belong to which of those contacts (by keyed hash),
       only when there are consents.
    """
    return consent_facts_from(_consent_rows(contact_ids), numbers)


def consent_rows_statement(contact_ids: Iterable[int | None]) -> Statement | None:
    """The first read of `consent_facts_for`, for a caller that sends it with others
    (common.together); None when there is no saved contact to read for."""
    ids = list({int(i) for i in contact_ids if i is not None})
    return Statement(_CONSENT_ROWS, [bigint_array(ids)]) if ids else None


def consent_facts_from(
    rows: list[_Row], numbers: Iterable[str | None] | None
) -> dict[FactKey, tuple[ConsentFact, ...]]:
    """`consent_facts_for` from the rows of `consent_rows_statement` (then query 2)."""
    if not rows:
        return {}
    with_consents = list({row[1] for row in rows})
    pairs: list[FactKey] = []
    if numbers is None:
        phones = PhoneNumber.objects.filter(contact_id__in=with_consents)
        for contact_id, e164 in phones.values_list("contact_id", "number"):
            pairs.append((contact_id, e164))
    else:
        by_hash = {keyed_hash(n): n for n in set(numbers) if n}
        found = consent_facts_by_hash(rows, by_hash)
        return {(contact_id, by_hash[h]): facts for (contact_id, h), facts in found.items()}
    return _facts_for_pairs(rows, pairs)


def consent_facts_by_hash(
    rows: list[_Row], number_hashes: Iterable[str]
) -> dict[tuple[int, str], tuple[ConsentFact, ...]]:
    """`consent_facts_from` for numbers known by keyed hash only (a planning tick decrypts
    none), keyed by (contact id, number hash)."""
    if not rows:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_id, number_hash FROM campaigns_phonenumber"
            " WHERE contact_id = ANY(%s::bigint[])"
            " AND number_hash = ANY(string_to_array(%s, ','))",
            [bigint_array({row[1] for row in rows}), joined({h for h in number_hashes if h})],
        )
        pairs = cursor.fetchall()
    return _facts_keyed(rows, ((pair, pair[0], pair[1]) for pair in pairs))


def consent_facts_for_pairs(*, pairs: Iterable[FactKey]) -> dict[FactKey, tuple[ConsentFact, ...]]:
    """Facts for exact (contact id, E.164) pairs, whether or not the number is on file (1 query)."""
    wanted = list(dict.fromkeys(pairs))
    rows = _consent_rows({contact_id for contact_id, _ in wanted})
    return _facts_for_pairs(rows, wanted)


# Plain SQL: this runs for every decision, one call's or a planner batch's; one array
# parameter, because an IN list of 100,000 parameters costs more than the query.
_CONSENT_ROWS = """
SELECT c.id, c.contact_id, c.kind, c.number_hash, c.purposes,
       c.signed_at, c.expires_at, c.revoked_at,
       ARRAY(SELECT r.program_id FROM consent_consent_recipient_programs r
              WHERE r.consent_id = c.id ORDER BY r.program_id),
       ct.program_id
  FROM consent_consent c
  JOIN campaigns_contact ct ON ct.id = c.contact_id
 WHERE c.contact_id = ANY(%s::bigint[])
 ORDER BY c.contact_id, c.signed_at, c.id
"""


def _consent_rows(contact_ids: Iterable[int | None]) -> list[_Row]:
    statement = consent_rows_statement(contact_ids)
    return [] if statement is None else cast(list[_Row], fetch_all(statement))


def _facts_for_pairs(
    rows: list[_Row], pairs: Iterable[FactKey]
) -> dict[FactKey, tuple[ConsentFact, ...]]:
    return _facts_keyed(
        rows, (((c, e164), c, keyed_hash(e164) if e164 else None) for c, e164 in pairs)
    )


def _facts_keyed(
    rows: list[_Row], wanted: Iterable[tuple[tuple[int, str], int, str | None]]
) -> dict[tuple[int, str], tuple[ConsentFact, ...]]:
    """Facts per key, for (key, contact id, number hash) triples."""
    per_contact: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        per_contact[row[1]].append(row)
    out: dict[tuple[int, str], tuple[ConsentFact, ...]] = {}
    for key, contact_id, number_hash in wanted:
        if contact_id in per_contact:
            out[key] = tuple(_fact(row, number_hash) for row in per_contact[contact_id])
    return out


def _fact(row: _Row, number_hash: str | None) -> ConsentFact:
    pk, _, kind, consent_hash, purposes, signed_at, expires_at, revoked_at, recipients, home = row
    # A TCPA consent covers the one number it names; the other kinds are not tied to a number.
    covers = consent_hash == number_hash if kind in NUMBER_KINDS else True
    # A Part 2 consent names its recipients; the others are given to the contact's own program.
    programs = frozenset(recipients) if kind == ConsentKind.PART2 else frozenset({home})
    return ConsentFact(
        id=pk,
        kind=kind,
        covers_number=covers,
        purposes=frozenset(purposes),
        signed_at=signed_at,
        expires_at=expires_at,
        revoked_at=revoked_at,
        recipient_program_ids=programs,
    )


# --- One call, in words ----------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Whether consents allow a call (contact, number, program, purpose) at an instant."""

    covered: bool
    blockers: tuple[Blocker, ...]
    relied_on: tuple[int, ...]  # ids of the consents that carry the call
    basis: str  # how the queue's consent basis is met, or what it still needs

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code for b in self.blockers)

    def __str__(self) -> str:
        if self.covered:
            relied = ", ".join(str(i) for i in self.relied_on)
            return f"Allowed: {self.basis}" + (f" (relies on consents {relied})" if relied else "")
        return "Not allowed: " + "; ".join(f"{b.detail} ({b.code})" for b in self.blockers)


def coverage_of(
    *,
    facts: Iterable[ConsentFact],
    patient_status: str,
    program_id: int,
    purpose: str,
    at: datetime,
    provided_by_patient: bool | None = None,
    callback_requested_at: datetime | None = None,
) -> Coverage:
    """The decision's consent rules (consent.coverage) over one call's facts, in words (pure).

    Adds what the queue's basis rests on and, for a reminder, the healthcare
    exemption's term that the number was one the patient gave.
    """
    facts = tuple(facts)
    found = consent_coverage(
        consents=facts,
        patient_status=patient_status,
        program_id=program_id,
        purpose=purpose,
        at=at,
        callback_requested_at=callback_requested_at,
    )
    blockers = list(found.blockers)
    if purpose == Purpose.REACTIVATION:
        written = [
            c for c in found.relied_on if c in {f.id for f in facts if f.kind == "tcpa_written"}
        ]
        basis = (
            f"prior express written consent {', '.join(str(i) for i in written)}"
            if written
            else "prior express written consent naming this number"
        )
    elif purpose == Purpose.REMINDER:
        basis = "the healthcare exemption: a number the patient gave, and an appointment"
        if provided_by_patient is False:
            blockers.append(Blocker(CONSENT_MISSING, "the number was not provided by the patient"))
    elif purpose == Purpose.CALLBACK:
        basis = "the person's own request (the callback's request time, on the task)"
    else:
        basis = "unknown purpose"
    return Coverage(
        covered=not blockers, blockers=tuple(blockers), relied_on=found.relied_on, basis=basis
    )


def consent_covering(
    *,
    contact: Contact,
    number_e164: str,
    program: Program,
    purpose: str,
    at: datetime | None = None,
) -> Coverage:
    """Does any consent allow `program` to call `contact` on this number for `purpose` at `at`?"""
    at = at or timezone.now()
    try:
        e164 = to_e164(number_e164)
    except InvalidPhoneNumber:
        return Coverage(
            False, (Blocker(INVALID_NUMBER, "not a valid, dialable US number"),), (), ""
        )
    facts = consent_facts_for_pairs(pairs=[(contact.pk, e164)]).get((contact.pk, e164), ())
    provided = (
        PhoneNumber.objects.filter(contact=contact, number_hash=keyed_hash(e164))
        .values_list("provided_by_patient", flat=True)
        .first()
    )
    return coverage_of(
        facts=facts,
        patient_status=contact.patient_status,
        program_id=program.pk,
        purpose=purpose,
        at=at,
        provided_by_patient=bool(provided),
    )


# --- What a consent allows, in words ---------------------------------------------------------


def consent_state(consent: Consent, at: datetime | None = None) -> str:
    """`active`, `revoked`, `expired` or `not_yet` at `at`."""
    at = at or timezone.now()
    if consent.revoked_at is not None and consent.revoked_at <= at:
        return "revoked"
    if consent.expires_at is not None and consent.expires_at <= at:
        return "expired"
    if consent.signed_at > at:
        return "not_yet"
    return "active"


def consent_allows(consent: Consent, at: datetime | None = None) -> str:
    """One sentence for staff: what this consent allows (recipient programs prefetched)."""
    at = at or timezone.now()
    state = consent_state(consent, at)
    if state == "revoked" and consent.revoked_at is not None:
        return (
            f"Revoked on {consent.revoked_at:%Y-%m-%d} ({consent.revocation_channel}): "
            "allows nothing since."
        )
    if state == "expired" and consent.expires_at is not None:
        return f"Expired on {consent.expires_at:%Y-%m-%d}: allows nothing since."
    purposes = ", ".join(consent.purposes) or "no call purpose"
    if consent.kind in NUMBER_KINDS:
        written = consent.kind == ConsentKind.TCPA_WRITTEN
        text = f"Calls to {mask(consent.number or '')} for {purposes}"
        if written:
            text += "; as written consent it also lifts the do-not-call registries for this number"
    elif consent.kind == ConsentKind.PART2:
        programs = sorted(p.slug for p in consent.recipient_programs.all())
        outside = len(consent.outside_recipient_list)
        to = ", ".join(programs) or "no program of this portfolio"
        if outside:
            to += f" and {outside} outside recipient{'s' if outside > 1 else ''}"
        others = len(consent.other_purpose_list)
        text = f"Disclosure by {consent.discloser} to {to} for {purposes}"
        if others:
            text += f" (and {others} other purpose{'s' if others > 1 else ''})"
        if programs and consent.purposes:
            text += f"; so {', '.join(programs)} may call this patient for {purposes}"
    else:
        call = f" (attempt {consent.attempt_id})" if consent.attempt_id else ""
        text = f"Recording of the call{call}"
    if state == "not_yet":
        text += f"; in effect from {consent.signed_at:%Y-%m-%d}"
    if consent.expires_at is not None:
        text += f"; until {consent.expires_at:%Y-%m-%d}"
    elif consent.expiration_event:
        text += f"; until: {consent.expiration_event}"
    elif consent.expires_never:
        text += "; no expiration"
    return text + "."


# --- Accounting of disclosures ---------------------------------------------------------------


def disclosures_for_patient(
    *, contact: Contact, since: datetime | None = None
) -> QuerySet[Disclosure]:
    """A patient's Part 2 disclosures, newest first (default: the three years 2.25 covers)."""
    since = since or timezone.now() - DISCLOSURE_ACCOUNTING_PERIOD
    return (
        Disclosure.objects.filter(contact=contact, disclosed_at__gte=since)
        .select_related("consent", "program")
        .order_by("-disclosed_at", "-id")
    )
