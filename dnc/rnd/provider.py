"""Asking a scrub service's RND query API, and recording its answers.

A query tells the provider that a treatment program holds the number (RULES.md
3a, Part 2): none is sent for a program until its business associate agreement
and its Part 2 qualified service organization agreement with the provider are
on file (`RndAgreement`).

The wire format (JSON over HTTPS, the shape of the FCC RND's own query: a
ten-digit number and the date asked about in, yes / no / no data out):

    POST {RND_PROVIDER_URL}/v1/queries
    Authorization: Bearer {RND_PROVIDER_KEY}
    {"queries": [{"id": "0", "tn": "2125550123", "date": "2024-03-01"}, ...]}

    200 {"results": [{"id": "0", "result": "yes" | "no" | "no_data"}, ...]}
    401 or 403: the key is refused; 413: more queries than the provider's limit.

At most RND_PROVIDER_BATCH queries go in one request. Anything else (a
timeout, another status, an answer missing or unknown) records nothing for the
batch: no answer means no call for a reactivation that needs one.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from common.crypto import keyed_hash
from dnc.models import RndAnswer, RndResult

logger = logging.getLogger(__name__)
RESULTS = frozenset(RndResult.values)


@dataclass(frozen=True, slots=True)
class RndQuery:
    number: str  # E.164
    consent_date: date


class RndProvider(Protocol):
    name: str
    batch_limit: int

    def query(self, queries: Sequence[RndQuery]) -> list[str]:
        """The result of each query, in order; raises RndProviderError."""
        ...


class RndProviderError(Exception):
    """The provider gave no usable answer; the message never holds a number."""


class RndNotAllowed(Exception):
    """The program has not recorded its agreements with the provider: nothing was sent."""


@dataclass(frozen=True, slots=True)
class RndAgreement:
    """A program's agreements with the RND provider (campaigns.Program's dates)."""

    program_id: int
    baa_signed_on: date | None
    qso_signed_on: date | None

    def missing(self) -> list[str]:
        names = [("business associate agreement", self.baa_signed_on)]
        names.append(("Part 2 qualified service organization agreement", self.qso_signed_on))
        return [name for name, signed in names if signed is None]


class HttpRndProvider:
    """The JSON-over-HTTPS client of the module docstring."""

    def __init__(
        self, *, base_url: str, api_key: str, batch_limit: int, timeout: float, name: str = "http"
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.batch_limit = batch_limit
        self.timeout = timeout
        self.name = name

    def query(self, queries: Sequence[RndQuery]) -> list[str]:
        if len(queries) > self.batch_limit:
            raise ValueError(f"at most {self.batch_limit} queries per request")
        body = {
            "queries": [
                {
                    "id": str(i),
                    "tn": q.number.removeprefix("+1"),
                    "date": q.consent_date.isoformat(),
                }
                for i, q in enumerate(queries)
            ]
        }
        request = urllib.request.Request(  # noqa: S310 (the configured https URL)
            f"{self.base_url}/v1/queries",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise RndProviderError(f"the provider refused the key ({exc.code})") from None
            raise RndProviderError(f"the provider answered {exc.code}") from None
        except TimeoutError:
            raise RndProviderError(f"no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            reason = "timed out" if isinstance(exc.reason, TimeoutError) else "unreachable"
            raise RndProviderError(f"the provider is {reason}") from None
        except ValueError:
            raise RndProviderError("the provider's answer is not JSON") from None
        return _results(answer, len(queries))


def _results(answer: object, count: int) -> list[str]:
    """One known result per query id, or RndProviderError (fail closed: all or nothing)."""
    rows = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise RndProviderError("the provider's answer has no results")
    found: dict[str, str] = {}
    for row in rows:
        if isinstance(row, dict) and row.get("result") in RESULTS:
            found[str(row.get("id"))] = str(row["result"])
    missing = [i for i in range(count) if str(i) not in found]
    if missing:
        raise RndProviderError(f"the provider answered {count - len(missing)} of {count} queries")
    return [found[str(i)] for i in range(count)]


def rnd_provider_configured() -> RndProvider | None:
    """The deployment's provider (RND_PROVIDER_URL and RND_PROVIDER_KEY), or None."""
    if not settings.RND_PROVIDER_URL or not settings.RND_PROVIDER_KEY:
        return None
    return HttpRndProvider(
        base_url=settings.RND_PROVIDER_URL,
        api_key=settings.RND_PROVIDER_KEY,
        batch_limit=settings.RND_PROVIDER_BATCH,
        timeout=settings.RND_PROVIDER_TIMEOUT,
    )


@dataclass
class RndAsked:
    asked: int = 0
    batches: int = 0


def rnd_answers_request(
    *, provider: RndProvider, agreement: RndAgreement, queries: Sequence[RndQuery], actor: str
) -> RndAsked:
    """Ask the provider about these numbers and dates, in batches, and record the answers.

    1. Refuse (RndNotAllowed) before sending anything unless both agreements are on file.
    2. Send at most `provider.batch_limit` queries at a time.
    3. Record each batch's answers with its audit event (what was disclosed to
       whom, by count) in one transaction, before sending the next.
    4. A batch without a usable answer stops the run (RndProviderError): what
       was recorded stays, the rest stays unanswered.
    """
    missing = agreement.missing()
    if missing:
        raise RndNotAllowed(f"no {' and no '.join(missing)} recorded for this program")
    unique = list(dict.fromkeys(queries))
    done = RndAsked()
    limit = max(1, provider.batch_limit)
    for start in range(0, len(unique), limit):
        batch = unique[start : start + limit]
        try:
            results = provider.query(batch)
        except RndProviderError as exc:
            logger.warning("RND provider %s: %s", provider.name, exc)
            raise
        _record(provider.name, agreement.program_id, batch, results, actor)
        done.asked += len(batch)
        done.batches += 1
    return done


@transaction.atomic
def _record(
    provider: str, program_id: int, batch: Sequence[RndQuery], results: Sequence[str], actor: str
) -> None:
    now = timezone.now()
    for query, result in zip(batch, results, strict=True):
        RndAnswer.objects.update_or_create(
            number_hash=keyed_hash(query.number),
            consent_date=query.consent_date,
            defaults={"result": result, "queried_at": now, "source": f"provider:{provider}"},
        )
    counts = {r: sum(1 for x in results if x == r) for r in sorted(RESULTS)}
    audit_record(
        actor=actor,
        action="dnc.rnd_queried",
        object_type="campaigns_program",
        object_id=program_id,
        program_id=program_id,
        data={"provider": provider, "numbers": len(batch), "results": counts},
    )
