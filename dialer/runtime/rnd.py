"""Keeping RND answers ahead of the calls that need them (RULES.md 3a).

Which numbers wait for an answer: the open tasks of reminder and reactivation
queues whose number has a consent the call would rely on (by the decision's
own kinds per purpose) that is over 45 days old, or will be within a day,
and no answer for that consent's date, or one that is (or within a day will
be) over 31 days old. A `yes` is final and never asked again.

Those numbers leave the system in two ways, each audited like a disclosure: a
CSV for the program's bulk query (`export_rnd_queries`), or the configured
provider's API, asked by a beat task for active queues of programs that have
recorded their agreements with it (`dnc.rnd.provider`).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db.models import Q

from audit.services import audit_record
from campaigns.models import Program, Purpose
from consent.coverage import TCPA_KINDS
from consent.models import Consent
from dialer.decision.rules_table import RULES
from dialer.models import OPEN_STATUSES, CallTask
from dnc.models import RndAnswer, RndResult
from dnc.rnd.facts import consent_date_of
from dnc.rnd.provider import (
    RndAgreement,
    RndNotAllowed,
    RndProvider,
    RndProviderError,
    RndQuery,
    rnd_answers_request,
    rnd_provider_configured,
)

logger = logging.getLogger(__name__)

RND_PURPOSES = (Purpose.REMINDER, Purpose.REACTIVATION)
LEAD = timedelta(days=1)  # ask this far ahead of the day an answer is needed


@dataclass(frozen=True, slots=True)
class RndNeed:
    queue_id: int
    program_id: int
    number: str  # E.164
    consent_date: date


def rnd_needed(
    *,
    at: datetime,
    program_ids: Iterable[int] | None = None,
    queue_ids: Iterable[int] | None = None,
    active_only: bool = True,
) -> list[RndNeed]:
    """The (queue, number, consent date) triples that wait for an RND answer.

    1. Open tasks of reminder and reactivation queues (active ones only, unless
       told otherwise), with their contact, number hash and decrypted number.
    2. Those contacts' unrevoked, unexpired TCPA consents for that number whose
       kind can carry the queue's purpose, signed more than 45 days (less the
       lead) before `at`.
    3. The answers on file for those numbers; keep the pairs with none, or with
       a `no` or `no_data` asked more than 31 days (less the lead) before `at`.
    """
    tasks = CallTask.objects.filter(status__in=OPEN_STATUSES, queue__purpose__in=RND_PURPOSES)
    if active_only:
        tasks = tasks.filter(queue__active=True, queue__program__active=True)
    if program_ids is not None:
        tasks = tasks.filter(queue__program_id__in=list(program_ids))
    if queue_ids is not None:
        tasks = tasks.filter(queue_id__in=list(queue_ids))
    columns = ("queue_id", "queue__program_id", "queue__purpose", "contact_id", "number_hash")
    rows = list(tasks.values_list(*columns, "phone__number"))
    if not rows:
        return []
    consents: dict[tuple[int, str], list[tuple[str, frozenset[str], datetime]]] = defaultdict(list)
    for contact_id, number_hash, kind, allowed, signed_at in Consent.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at),
        contact_id__in={row[3] for row in rows},
        kind__in=sorted(TCPA_KINDS["callback"] | TCPA_KINDS["reactivation"]),
        revoked_at__isnull=True,
        signed_at__lte=at - RULES.rnd_min_aging + LEAD,
    ).values_list("contact_id", "number_hash", "kind", "purposes", "signed_at"):
        consents[(contact_id, number_hash)].append((kind, frozenset(allowed), signed_at))
    stale = at - RULES.rnd_max_age + LEAD
    answered = {
        (number_hash, asked)
        for number_hash, asked, result, queried_at in RndAnswer.objects.filter(
            number_hash__in={row[4] for row in rows}
        ).values_list("number_hash", "consent_date", "result", "queried_at")
        if result == RndResult.YES or queried_at > stale
    }
    needs: dict[tuple[int, str, date], RndNeed] = {}
    for queue_id, program_id, purpose, contact_id, number_hash, number in rows:
        for kind, purposes, signed_at in consents.get((contact_id, number_hash), ()):
            if purpose not in purposes or kind not in TCPA_KINDS[purpose]:
                continue
            asked = consent_date_of(signed_at)
            if (number_hash, asked) not in answered and number:
                needs[(queue_id, number, asked)] = RndNeed(queue_id, program_id, number, asked)
    return list(needs.values())


def rnd_waiting_count(*, queue_id: int, at: datetime) -> int:
    """How many numbers of this queue wait for an RND answer (the admin's column)."""
    needs = rnd_needed(at=at, queue_ids=[queue_id], active_only=False)
    return len({need.number for need in needs})


def rnd_queries_export(*, program: Program, path: Path, actor: str, at: datetime) -> int:
    """Write the CSV (`number`, `consent_date`) of the program's numbers waiting for an answer.

    Every reminder and reactivation queue of the program counts, active or not
    (a bulk query comes before a campaign starts). The file is readable by its
    owner only; its writing is audited like a disclosure (how many numbers,
    the file's checksum). Returns the number of lines written.
    """
    needs = rnd_needed(at=at, program_ids=[program.pk], active_only=False)
    pairs = sorted({(need.number, need.consent_date) for need in needs})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["number", "consent_date"])
        writer.writerows((number, asked.isoformat()) for number, asked in pairs)
    audit_record(
        actor=actor,
        action="dialer.rnd_queries_exported",
        object_type="campaigns_program",
        object_id=program.pk,
        program_id=program.pk,
        data={
            "numbers": len(pairs),
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "recipient": "Reassigned Numbers Database (bulk query by the program)",
        },
    )
    return len(pairs)


def rnd_refresh(*, at: datetime, actor: str, provider: RndProvider | None = None) -> int:
    """Ask the provider about every number of active queues that waits for an answer.

    Program by program: a program without its agreements is refused by
    `rnd_answers_request` (nothing is sent), a provider failure stops that
    program's run (answers already recorded stay). Returns the numbers asked.
    """
    provider = provider or rnd_provider_configured()
    if provider is None:
        return 0
    by_program: dict[int, list[RndQuery]] = defaultdict(list)
    for need in rnd_needed(at=at):
        by_program[need.program_id].append(RndQuery(need.number, need.consent_date))
    asked = 0
    for program in Program.objects.filter(pk__in=by_program).order_by("pk"):
        agreement = RndAgreement(program.pk, program.rnd_baa_signed_on, program.rnd_qso_signed_on)
        try:
            done = rnd_answers_request(
                provider=provider, agreement=agreement, queries=by_program[program.pk], actor=actor
            )
        except RndNotAllowed as refused:
            logger.warning("RND refresh: program #%s not asked: %s", program.pk, refused)
            continue
        except RndProviderError:
            continue  # logged by the provider's client; the rest waits for the next run
        asked += done.asked
    return asked
