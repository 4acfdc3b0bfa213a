"""A consent as the decision reads it: a plain, frozen snapshot with no database behind it.

Defined here, by the app that owns consents, and read by the decision engine
(dialer.decision.facts re-exports it): the dependency points from dialer down
to consent, as DESIGN.md draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ConsentFact:
    id: int
    kind: str
    covers_number: bool  # a TCPA consent names one number; the other kinds cover any
    purposes: frozenset[str]
    signed_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    recipient_program_ids: frozenset[int]

    def active_at(self, at: datetime) -> bool:
        return (
            self.signed_at <= at
            and (self.expires_at is None or at < self.expires_at)
            and (self.revoked_at is None or at < self.revoked_at)
        )
