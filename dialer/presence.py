"""Staff presence: who can take a call now, and where they answer (agent-first dialling).

Staff set themselves available, on a call, wrapping up or away, and say where
they answer (their phone number or a SIP address). Their "My calls" page keeps
the presence alive (`presence_seen`); a presence not seen for
PRESENCE_TIMEOUT_SECONDS counts as away, so a closed page never receives calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from common.phones import InvalidPhoneNumber, to_e164
from dialer.models import CallAttempt, PresenceState, StaffPresence

# The backends that dial agent-first: a call goes out only for a free staff member.
AGENT_FIRST_BACKENDS = ("twilio", "sip")
PACE_TASK = "dialer.pace"

# sip:user@host[:port], the form a PBX or a softphone registers.
_SIP_ADDRESS = re.compile(r"sips?:[A-Za-z0-9._~%!$&'()*+,;=-]+@[A-Za-z0-9.-]+(:\d{1,5})?")


class PresenceError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class AvailableStaff:
    user_id: int
    answer_at: str
    since: datetime  # available since: the longest-waiting staff member is offered first


def answer_address(raw: str) -> str:
    """A staff member's answer point: a SIP address as given, or a US number in E.164."""
    raw = raw.strip()
    if _SIP_ADDRESS.fullmatch(raw):
        return raw
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        raise PresenceError(
            "answer_at", "answer_at: a US phone number or a SIP address (sip:name@host)"
        ) from None


def presence_set(
    *, user: User, state: str, now: datetime, answer_at: str | None = None
) -> StaffPresence:
    """Set a staff member's state (and, if given, where they answer); available needs an
    answer point."""
    if state not in PresenceState.values:
        raise PresenceError("state", "state: one of " + ", ".join(PresenceState.values))
    with transaction.atomic():
        presence, _ = StaffPresence.objects.select_for_update().get_or_create(
            user=user, defaults={"since": now, "seen_at": now}
        )
        if answer_at is not None:
            presence.answer_at = answer_address(answer_at) if answer_at.strip() else ""
        if state == PresenceState.AVAILABLE and not presence.answer_at:
            raise PresenceError(
                "answer_at", "answer_at: say where you answer before going available"
            )
        if presence.state != state:
            presence.state = state
            presence.since = now
        presence.seen_at = now
        presence.save()
        if state == PresenceState.AVAILABLE:
            # A free staff member: the next agent-first call may go now, not at the next tick.
            pace_on_commit(program_ids=user.programs.values_list("pk", flat=True))
    return presence


def presence_seen(*, user: User, now: datetime) -> None:
    """The staff member's page is still open: keep their presence alive."""
    StaffPresence.objects.filter(user=user).update(seen_at=now)


def available_staff(*, program_ids: list[int], now: datetime) -> list[AvailableStaff]:
    """Staff of these programs who are available, seen recently, and have no call in hand,
    longest-waiting first."""
    fresh = now - timedelta(seconds=settings.PRESENCE_TIMEOUT_SECONDS)
    busy = CallAttempt.objects.filter(placed_by_id__isnull=False, outcome="").values("placed_by_id")
    rows = (
        StaffPresence.objects.filter(
            state=PresenceState.AVAILABLE,
            seen_at__gte=fresh,
            user__is_active=True,
            user__programs__in=program_ids,
        )
        .exclude(answer_at="")
        .exclude(user_id__in=busy)
        .order_by("since", "user_id")
        .values_list("user_id", "answer_at", "since")
        .distinct()
    )
    return [AvailableStaff(user_id, answer_at, since) for user_id, answer_at, since in rows]


def pace_on_commit(*, program_ids: Iterable[int] | None = None) -> None:
    """Pace these programs once the current transaction commits (a staff member became
    free, a call ended). Sent by task name: this layer does not import the runtime."""
    ids = sorted(set(program_ids)) if program_ids is not None else None
    transaction.on_commit(lambda: current_app.send_task(PACE_TASK, args=(ids,)))
