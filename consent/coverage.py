"""What consents allow for one call: the consent rules, written once, over plain facts.

The decision engine (dialer.decision.checks) and the admin's "what it allows"
(consent.selectors.coverage_of) both call `consent_coverage`, so the two cannot
disagree: they read the same facts, return the same reason codes, and say the
same details. Pure: no database, no clock, no Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from consent.facts import ConsentFact

# The stable reason codes of API.md that consents decide (dialer.decision.outcome lists them
# among the others in the order the rules run).
CONSENT_REVOKED = "consent_revoked"
PART2_CONSENT_MISSING = "part2_consent_missing"
CONSENT_MISSING = "consent_missing"

PATIENT_FREE = "none"  # campaigns.models.PatientStatus.NONE: no Part 2 record to protect
# The TCPA consent kinds that can carry a call for each purpose; an unknown purpose reads as
# reactivation, the strictest (fail closed).
TCPA_KINDS: dict[str, frozenset[str]] = {
    "callback": frozenset({"tcpa_express", "tcpa_written"}),
    "reminder": frozenset({"tcpa_express", "tcpa_written"}),
    "reactivation": frozenset({"tcpa_written"}),
}


@dataclass(frozen=True)
class Blocker:
    code: str  # a stable reason code of API.md
    detail: str  # for people; never a number or a name


@dataclass(frozen=True)
class ConsentCoverage:
    """What consents say about one call: what blocks it, and which consents carry it."""

    blockers: tuple[Blocker, ...]
    relied_on: tuple[int, ...]  # ids of the consents that carry the call

    def blocker(self, code: str) -> Blocker | None:
        if not self.blockers:  # the common case, asked three times per decision
            return None
        return next((b for b in self.blockers if b.code == code), None)


def tcpa_consents(consents: Iterable[ConsentFact], purpose: str) -> list[ConsentFact]:
    """The TCPA consents naming this number that can carry a call for `purpose`."""
    kinds = TCPA_KINDS.get(purpose, TCPA_KINDS["reactivation"])
    return [c for c in consents if c.kind in kinds and c.covers_number and purpose in c.purposes]


def part2_consents(
    consents: Iterable[ConsentFact], program_id: int, purpose: str
) -> list[ConsentFact]:
    """The Part 2 consents naming this program as recipient for `purpose`."""
    return [
        c
        for c in consents
        if c.kind == "part2" and program_id in c.recipient_program_ids and purpose in c.purposes
    ]


def consent_coverage(
    *,
    consents: Iterable[ConsentFact],
    patient_status: str,
    program_id: int,
    purpose: str,
    at: datetime,
    callback_requested_at: datetime | None = None,
) -> ConsentCoverage:
    """The consent rules for one call at `at`.

    1. Part 2: a current or former patient needs an active Part 2 consent that
       names this program as recipient and covers the purpose.
    2. Revocation: a TCPA consent for this number and purpose was revoked and
       no active one replaces it; a callback requested after the revocation is
       a new invitation and replaces it.
    3. Written consent: reactivation needs an active written consent naming the
       number; a purpose the rules do not know is refused. (A callback rests on
       the request, a reminder on the appointment: those are the task's, checked
       by the engine.)
    """
    consents = tuple(consents)
    blockers: list[Blocker] = []
    relied: list[int] = []

    if patient_status != PATIENT_FREE:
        part2 = part2_consents(consents, program_id, purpose)
        active = [c for c in part2 if c.active_at(at)]
        if active:
            relied.extend(c.id for c in active)
        else:
            if any(c.revoked_at is not None and c.revoked_at <= at for c in part2):
                why = "the Part 2 consent naming this program for {p} was revoked"
            elif any(c.expires_at is not None and c.expires_at <= at for c in part2):
                why = "the Part 2 consent naming this program for {p} has expired"
            elif part2:
                why = "the Part 2 consent naming this program for {p} is not yet in effect"
            else:
                why = "no Part 2 consent names this program as recipient for {p}"
            blockers.append(Blocker(PART2_CONSENT_MISSING, why.format(p=purpose)))

    tcpa = tcpa_consents(consents, purpose)
    tcpa_active = [c for c in tcpa if c.active_at(at)]
    revoked = [c for c in tcpa if c.revoked_at is not None and c.revoked_at <= at]
    if revoked and not tcpa_active:
        last = max(revoked, key=lambda c: c.revoked_at or at)
        latest = last.revoked_at or at
        requested = callback_requested_at
        if not (purpose == "callback" and requested is not None and latest < requested <= at):
            detail = f"{last.kind} consent {last.id} for {purpose} revoked on "
            blockers.append(Blocker(CONSENT_REVOKED, f"{detail}{latest.astimezone(UTC):%Y-%m-%d}"))

    if purpose == "reactivation":
        written = [c for c in tcpa_active if c.kind == "tcpa_written"]
        if written:
            relied.extend(c.id for c in written)
        else:
            blockers.append(
                Blocker(
                    CONSENT_MISSING, "no active written consent covers this number for reactivation"
                )
            )
    elif purpose in ("reminder", "callback"):
        relied.extend(c.id for c in tcpa_active)
    else:
        blockers.append(Blocker(CONSENT_MISSING, "the queue's purpose is not one the rules know"))

    return ConsentCoverage(blockers=tuple(blockers), relied_on=tuple(dict.fromkeys(relied)))
