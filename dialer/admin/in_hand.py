"""The call in a staff member's hands, for their page: the consent that allows it, and
why a call they were shown is gone (no number, no name in either)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User

from audit.models import AuditEvent
from consent.models import Consent
from consent.selectors import consent_allows, consent_covering
from dialer.models import CallAttempt, Outcome


@dataclass(frozen=True, slots=True)
class CallBasis:
    basis: str  # the rule the call rests on, in words
    consents: tuple[str, ...]  # each consent relied on: what it allows, in words (masked number)
    covered: bool


def call_basis(attempt: CallAttempt, *, now: datetime) -> CallBasis:
    """The consent rules of the decision (`consent_covering`) for this call, in words."""
    task = attempt.task
    coverage = consent_covering(
        contact=task.contact,
        number_e164=attempt.phone.number,
        program=task.queue.program,
        purpose=task.queue.purpose,
        at=now,
    )
    relied = Consent.objects.filter(pk__in=coverage.relied_on).prefetch_related(
        "recipient_programs"
    )
    return CallBasis(
        basis=coverage.basis,
        consents=tuple(f"Consent {c.pk} ({c.kind}): {consent_allows(c, now)}" for c in relied),
        covered=coverage.covered,
    )


def withdrawn_since(*, user: User, attempt_id: int) -> tuple[str, tuple[str, ...]] | None:
    """(reason codes, details) of a call this user had in hand and that was withdrawn
    since (by their own page's check or by another: a DNC request, a release); None when
    the call is not theirs or was not withdrawn (logged, say)."""
    attempt = (
        CallAttempt.objects.filter(pk=attempt_id, placed_by=user, outcome=Outcome.WITHDRAWN)
        .only("decision")
        .first()
    )
    if attempt is None:
        return None
    reason = (
        AuditEvent.objects.filter(
            action="call.withdrawn", object_type="call_attempt", object_id=str(attempt_id)
        )
        .order_by("-occurred_at", "-id")
        .values_list("reason", flat=True)
        .first()
    ) or Outcome.WITHDRAWN.value
    decision = attempt.decision or {}
    details: tuple[str, ...] = ()
    if decision.get("allowed") is False:
        details = tuple(str(r.get("detail", "")) for r in decision.get("reasons", ()))
    return reason, details
