"""What a decision answers: allowed or not, every blocking reason, and when next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# The consent codes are defined where the consent rules are (consent.coverage); re-exported.
from consent.coverage import CONSENT_MISSING as CONSENT_MISSING
from consent.coverage import CONSENT_REVOKED as CONSENT_REVOKED
from consent.coverage import PART2_CONSENT_MISSING as PART2_CONSENT_MISSING

INVALID_NUMBER = "invalid_number"
INTERNAL_DNC = "internal_dnc"
NATIONAL_DNC = "national_dnc"
STATE_DNC = "state_dnc"
REGISTRY_STALE = "registry_stale"
NUMBER_REASSIGNED = "number_reassigned"
OUTSIDE_CALLING_WINDOW = "outside_calling_window"
FREQUENCY_CAP = "frequency_cap"
MAX_ATTEMPTS_REACHED = "max_attempts_reached"
QUEUE_INACTIVE = "queue_inactive"
ABANDON_RATE_EXCEEDED = "abandon_rate_exceeded"

# The stable codes of the public contract (API.md), in the order rules run.
REASON_CODES = (
    INVALID_NUMBER,
    INTERNAL_DNC,
    CONSENT_REVOKED,
    PART2_CONSENT_MISSING,
    CONSENT_MISSING,
    NUMBER_REASSIGNED,
    NATIONAL_DNC,
    STATE_DNC,
    REGISTRY_STALE,
    OUTSIDE_CALLING_WINDOW,
    FREQUENCY_CAP,
    MAX_ATTEMPTS_REACHED,
    QUEUE_INACTIVE,
    ABANDON_RATE_EXCEEDED,
)
# Codes that waiting can cure (a window opens, a cap or a retry spacing expires).
TIME_CODES = frozenset({OUTSIDE_CALLING_WINDOW, FREQUENCY_CAP})


def iso_z(at: datetime) -> str:
    """ISO 8601 in UTC with a `Z` ("2026-11-28T13:00:00Z")."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    detail: str  # for people; never a phone number or a name

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    next_allowed_at: datetime | None
    zones: tuple[str, ...]
    evaluated_at: datetime
    rules_version: str = ""  # the calling-rules table used, for the audit trail

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, object]:
        """The decision JSON of the public contract (API.md), exactly."""
        return {
            "allowed": self.allowed,
            "reasons": [r.to_dict() for r in self.reasons],
            "next_allowed_at": None
            if self.next_allowed_at is None
            else iso_z(self.next_allowed_at),
            "zones": list(self.zones),
            "evaluated_at": iso_z(self.evaluated_at),
        }
