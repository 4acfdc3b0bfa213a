"""Preview dialling, staff side: take the next offered call, re-checked when it is taken,
on every look at it before it is dialled, and at the dial; a call left in hand goes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import actor_for_user
from audit.services import audit_record
from common.scoping import user_program_ids
from dialer.acts.outcomes import attempt_give_back, attempt_outcome_record
from dialer.acts.recheck import recheck_locked
from dialer.models import CallAttempt, CallTask, Outcome

ACTOR = "system:preview"
_IN_HAND_RELATED = ("task__queue__program", "task__contact", "phone", "script")


@dataclass(frozen=True)
class InHand:
    """The call in a staff member's hands after a fresh check, or why it was withdrawn."""

    attempt: CallAttempt | None
    withdrawn: str = ""  # the reason codes of a call withdrawn by this check
    details: tuple[str, ...] = ()  # their human details (no number, no name)


def current_call(*, user: User) -> CallAttempt | None:
    """The call this staff member took and has not logged yet (as stored; see preview_in_hand)."""
    return (
        CallAttempt.objects.filter(placed_by=user, outcome="")
        .select_related(*_IN_HAND_RELATED)
        .first()
    )


def preview_take_next(*, user: User, max_tries: int = 20) -> CallAttempt | None:
    """Give the oldest offered call of the user's programs to the user, if it is still allowed.

    Each try, in one transaction:
    1. lock one offered attempt (SKIP LOCKED, so two staff never get the same call);
    2. check it again under its task's lock (`_recheck`): a task closed since the
       offer, or a refusal now, withdraws it (and the next offered call is tried);
    3. allowed: hand it over (audited). Its number is shown only at the dial.
    """
    programs = user_program_ids(user)
    for _ in range(max_tries):
        now = timezone.now()
        with transaction.atomic():
            attempt = (
                CallAttempt.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    backend="preview",
                    outcome="",
                    placed_by__isnull=True,
                    task__queue__program_id__in=programs,
                )
                .order_by("started_at", "id")
                .first()
            )
            if attempt is None:
                return None
            if _recheck(attempt, now=now):
                continue
            attempt.placed_by = user
            attempt.taken_at = now
            attempt.save(update_fields=["placed_by", "taken_at", "decision"])
            audit_record(
                actor=actor_for_user(cast(Any, user)),
                action="call.taken",
                object_type="call_attempt",
                object_id=attempt.pk,
                program_id=attempt.task.queue.program_id,
                data={"decision": attempt.decision},
            )
            return attempt
    return None


def preview_in_hand(*, user: User) -> InHand:
    """The user's call in hand, decided again now unless it was already dialled.

    Every look at the page re-decides a call not yet dialled: a DNC request, a
    revocation, a closing window or a paused program since the take withdraws
    it here, with its reason. A dialled call is not re-decided: it may be under
    way, and its outcome is still to be logged.
    """
    return _check_in_hand(user=user, attempt_id=None, dial=False)


def preview_dial(*, user: User, attempt_id: int) -> InHand:
    """Staff press "Dial": decide the call again under its task's lock; only if it is still
    allowed, record the dial (audited `call.dialled`) so that the page shows the number.

    Dialling a call already dialled answers it again (a double click dials once).
    Refused: the call is withdrawn with its reason, exactly as on a look.
    """
    return _check_in_hand(user=user, attempt_id=attempt_id, dial=True)


def _check_in_hand(*, user: User, attempt_id: int | None, dial: bool) -> InHand:
    now = timezone.now()
    with transaction.atomic():
        found = CallAttempt.objects.select_for_update(of=("self",)).filter(
            placed_by=user, outcome=""
        )
        if attempt_id is not None:
            found = found.filter(pk=attempt_id)
        attempt = found.order_by("id").first()
        if attempt is None:
            return InHand(None)
        if attempt.dialled_at is None:
            reason = _recheck(attempt, now=now)
            if reason:
                details = tuple(r["detail"] for r in attempt.decision.get("reasons", ()))
                return InHand(None, reason, details)
            attempt.save(update_fields=["decision"])
            if dial:
                attempt.dialled_at = now
                attempt.save(update_fields=["dialled_at"])
                audit_record(
                    actor=actor_for_user(cast(Any, user)),
                    action="call.dialled",
                    object_type="call_attempt",
                    object_id=attempt.pk,
                    program_id=attempt.task.queue.program_id,
                    data={"decision": attempt.decision},
                )
    return InHand(CallAttempt.objects.select_related(*_IN_HAND_RELATED).get(pk=attempt.pk))


def preview_release_expired(*, now: datetime) -> int:
    """Give back the preview calls taken and not logged within PREVIEW_TAKE_TIMEOUT_MINUTES.

    The clock runs from the take, or from the dial for a dialled call. Each
    expired call is locked (SKIP LOCKED: one being logged right now is left
    alone) and released (`_release`): withdrawn if never dialled, closed as
    `failed` if dialled.
    Returns how many calls were released.
    """
    limit = now - timedelta(minutes=settings.PREVIEW_TAKE_TIMEOUT_MINUTES)
    released = 0
    while True:
        with transaction.atomic():
            expired = list(
                CallAttempt.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(backend="preview", outcome="", placed_by__isnull=False)
                .filter(Q(dialled_at__isnull=True, taken_at__lte=limit) | Q(dialled_at__lte=limit))
                .select_related("task__queue")
                .order_by("id")[:100]
            )
            for attempt in expired:
                _release(attempt, now=now, reason="take_expired", actor=ACTOR)
            released += len(expired)
        if len(expired) < 100:
            return released


def _lock_task(attempt: CallAttempt) -> CallTask:
    task = (
        CallTask.objects.select_for_update(of=("self",))
        .select_related("contact", "phone", "queue__program")
        .get(pk=attempt.task_id)
    )
    attempt.task = task
    return task


def _recheck(attempt: CallAttempt, *, now: datetime) -> str:
    """Decide a locked, undialled preview call again under its task's lock (a DNC request
    or revocation committed a moment earlier wins); "" if allowed, else the reason
    codes of its withdrawal (`recheck_locked`)."""
    return recheck_locked(_lock_task(attempt), attempt, now=now, actor=ACTOR)


def preview_release_for_user(*, user: User, reason: str) -> list[int]:
    """Give back every call this staff member took and has not logged (their session
    ended: `reason` is "idle_logoff" or "signed_out"), as the take timeout does
    (`_release`), in one transaction. Returns the ids of the released attempts."""
    now = timezone.now()
    with transaction.atomic():
        attempts = list(
            CallAttempt.objects.select_for_update(of=("self",))
            .select_related("task__queue")
            .filter(placed_by=user, outcome="", backend="preview")
            .order_by("id")
        )
        for attempt in attempts:
            _release(attempt, now=now, reason=reason, actor=actor_for_user(cast(Any, user)))
    return [attempt.pk for attempt in attempts]


def _release(attempt: CallAttempt, *, now: datetime, reason: str, actor: str) -> None:
    """Give back one locked call in hand that was not logged.

    1. Never dialled (its number was never shown): it cannot have been made, so
       it is withdrawn with `reason` and counts toward nothing; its task, if
       still in progress, is due again at once for anyone to take.
    2. Dialled but not logged: the call may well have been made, and a call
       that counts toward no cap is the unsafe guess. It is closed as `failed`
       (retried per the queue's policy after its spacing, or exhausted), and the
       release is audited with the reason `not_logged`.
    """
    if attempt.dialled_at is None:
        attempt_give_back(
            attempt=attempt, task=_lock_task(attempt), now=now, reason=reason, actor=actor
        )
    else:
        attempt_outcome_record(attempt_id=attempt.pk, outcome=Outcome.FAILED, actor=actor)
    audit_record(
        actor=actor,
        action="call.released",
        object_type="call_attempt",
        object_id=attempt.pk,
        program_id=attempt.task.queue.program_id,
        reason=reason if attempt.dialled_at is None else "not_logged",
        data={"why": reason},
    )
