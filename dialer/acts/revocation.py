"""Revoking consent: the consent is stamped and the calls it covered are cancelled, together.

A revocation by any reasonable means (admin, API, a staff outcome, an opt-out
keyword) takes effect at once (47 CFR 64.1200(a)(10)); the FCC allows ten
business days, we allow none. Both halves run in one transaction, so no
reader ever sees a revoked consent with its calls still pending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Contact
from common.crypto import keyed_hash
from common.phones import to_e164
from consent.models import NUMBER_KINDS, Consent, ConsentKind, RevocationChannel
from consent.services import consent_revoke
from dialer.models import OPEN_STATUSES, CallTask
from dialer.services import tasks_cancel

CLOSED_REASON = "consent_revoked"

# Words that revoke consent by themselves (47 CFR 64.1200(a)(10), FCC 24-24).
OPT_OUT_KEYWORDS = ("STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE")
_KEYWORD_RE = re.compile(
    r"\b(" + "|".join(k.replace(" ", r"\s*") for k in OPT_OUT_KEYWORDS) + r")\b"
)


@dataclass(frozen=True)
class Revocation:
    consent_ids: tuple[int, ...]
    cancelled_task_ids: tuple[int, ...]


def covered_open_tasks(consent: Consent) -> QuerySet[CallTask]:
    """The open tasks a consent covered: its contact's, for its programs and purposes.

    A TCPA consent covers the one number it names; a Part 2 consent covers its
    recipient programs; a recording consent covers no call purpose.
    """
    if consent.kind == ConsentKind.PART2:
        program_ids = list(consent.recipient_programs.values_list("id", flat=True))
    else:
        program_ids = [consent.contact.program_id]
    tasks = CallTask.objects.filter(
        contact_id=consent.contact_id,
        status__in=OPEN_STATUSES,
        queue__program_id__in=program_ids,
        queue__purpose__in=list(consent.purposes),
    )
    if consent.kind in NUMBER_KINDS:
        tasks = tasks.filter(number_hash=consent.number_hash)
    return tasks


def consent_revoke_and_cancel(
    *,
    consent_id: int,
    channel: str,
    actor: str,
    revoked_at: datetime | None = None,
    reason: str = "",
) -> Revocation:
    """Revoke a consent and cancel, in the same transaction, every open call it covered.

    1. Lock and stamp the consent (consent service; idempotent, audited).
    2. Lock its covered open tasks and cancel them with `consent_revoked`
       (dialer service; each cancellation audited).
    """
    with transaction.atomic():
        consent = consent_revoke(
            consent_id=consent_id,
            channel=channel,
            actor=actor,
            revoked_at=revoked_at,
            reason=reason,
        )
        tasks = covered_open_tasks(consent).select_related("queue").select_for_update(of=("self",))
        cancelled = tasks_cancel(tasks=list(tasks), reason=CLOSED_REASON, actor=actor)
    return Revocation((consent.pk,), tuple(cancelled))


def opt_out_keyword(text: str) -> str | None:
    """The opt-out keyword in a message ("Stop", "opt-out please", "UNSUBSCRIBE."), or None.

    A keyword anywhere in the message counts, as a whole word: a message that
    mixes one with other words is still treated as a revocation (the safe side).
    """
    words = " ".join(re.sub(r"[^A-Za-z]+", " ", text or "").upper().split())
    found = _KEYWORD_RE.search(words)
    if found is None:
        return None
    word = found.group(1)
    return "OPT OUT" if word.startswith("OPT") else word


def consent_revoke_by_keyword(
    *,
    contact: Contact,
    number: str,
    text: str,
    actor: str,
    received_at: datetime | None = None,
) -> tuple[str | None, Revocation]:
    """An opt-out reply from `number`: revoke what covers that number and stop calling it.

    1. No keyword in `text`: nothing changes (keyword None).
    2. Otherwise, in one transaction: revoke every TCPA consent of the contact
       naming that number (channel `text`), and cancel every open task of the
       contact on that number, whatever its purpose: the person said stop.
    The message text is never stored or logged, only the keyword found.
    """
    keyword = opt_out_keyword(text)
    if keyword is None:
        return None, Revocation((), ())
    number_hash = keyed_hash(to_e164(number))
    when = received_at or timezone.now()
    with transaction.atomic():
        consent_ids = list(
            Consent.objects.filter(
                contact=contact,
                kind__in=list(NUMBER_KINDS),
                number_hash=number_hash,
                revoked_at__isnull=True,
            ).values_list("id", flat=True)
        )
        for consent_id in consent_ids:
            consent_revoke(
                consent_id=consent_id,
                channel=RevocationChannel.TEXT,
                actor=actor,
                revoked_at=when,
                reason=f"opt-out keyword {keyword}",
            )
        tasks = (
            CallTask.objects.filter(
                contact=contact, number_hash=number_hash, status__in=OPEN_STATUSES
            )
            .select_related("queue")
            .select_for_update(of=("self",))
        )
        cancelled = tasks_cancel(tasks=list(tasks), reason=CLOSED_REASON, actor=actor)
        audit_record(
            actor=actor,
            action="consent.opt_out_keyword",
            object_type="contact",
            object_id=contact.pk,
            program_id=contact.program_id,
            reason=f"opt-out keyword {keyword}",
            data={"consents_revoked": consent_ids, "tasks_cancelled": cancelled},
        )
    return keyword, Revocation(tuple(consent_ids), tuple(cancelled))
