"""An RND answer as the decision reads it: a plain, frozen snapshot with no database behind it.

Defined here, by the app that keeps the answers, and read by the decision engine
(dialer.decision.facts re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True, slots=True)
class RndAnswerFact:
    consent_date: date  # the date asked about
    result: str  # "yes" | "no" | "no_data"
    queried_at: datetime


def consent_date_of(signed_at: datetime) -> date:
    """The date an RND query asks about for a consent: its UTC calendar date.

    One rule for the export, the provider queries and the decision, so that an
    answer is always found under the date it was asked for.
    """
    return signed_at.astimezone(UTC).date()
