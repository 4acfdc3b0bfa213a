"""Issue 13, item 6: an opt-out or a revocation is never refused.

Whatever its wording, a request not to be called is recorded and the calls it
covers stop at once (47 CFR 64.1200(a)(10): any reasonable means); only what
cannot be understood at all (no number, no consent) is refused. Each test
goes through the API and checks both what is stored and that the open tasks
are cancelled.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import Program
from consent.models import Consent
from dialer.models import CallTask
from dnc.models import InternalDncEntry
from tests.api import conftest as api_conftest
from tests.api.conftest import error_fields, post
from tests.conftest import Portfolio

pytestmark = pytest.mark.django_db
tokens = api_conftest.tokens  # the API clients' fixture, shared

SIGNED = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
NUMBER = "(305) 555-0123"  # contact A's


def consent_with_a_pending_call(portfolio: Portfolio, token: str) -> tuple[int, CallTask]:
    """A written consent for alumni calls, and the reactivation task it covers (pending)."""
    consent = post(
        token,
        "consents/",
        {
            "contact": portfolio.contact_a.pk,
            "kind": "tcpa_written",
            "number": NUMBER,
            "purposes": ["reactivation"],
            "signed_at": SIGNED.isoformat(),
            "signature": "/s/ e-sign 4471",
        },
    )
    assert consent.status_code == 201, consent.json()
    attempt = post(
        token,
        "attempts/",
        {
            "contact": portfolio.contact_a.pk,
            "queue": "reactivation",
            "number": NUMBER,
            "started_at": (timezone.now() - timedelta(days=2)).isoformat(),
            "outcome": "no_answer",
        },
    )
    assert attempt.status_code == 201, attempt.json()
    task = CallTask.objects.get(queue=portfolio.reactivation_a)
    assert task.status == "pending"
    return consent.json()["id"], task


def revoke(token: str, consent_id: int, body: dict[str, Any]) -> Any:
    return post(token, f"consents/{consent_id}/revoke/", body)


def assert_cancelled(task: CallTask, reason: str) -> None:
    task.refresh_from_db()
    assert (task.status, task.closed_reason) == ("cancelled", reason)


@pytest.mark.parametrize(
    ("given", "stored", "label"),
    [
        ("phone", "call", "phone"),
        ("SMS", "text", "SMS"),
        ("in person", "verbal", "in person"),
        ("fax to the front desk", "other", "fax to the front desk"),
        ("x" * 300, "other", "x" * 100),
        ("", "other", None),
        ("email", "email", None),
    ],
)
def test_a_revocation_by_any_channel_is_recorded_and_stops_the_calls(
    portfolio: Portfolio, tokens: dict[str, str], given: str, stored: str, label: str | None
) -> None:
    consent_id, task = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    response = revoke(tokens["crm_a"], consent_id, {"channel": given})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "revoked"
    assert (body["revocation_channel"], body["revocation_channel_label"]) == (stored, label)
    assert_cancelled(task, "consent_revoked")


def test_a_revocation_with_no_channel_at_all_is_recorded(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    consent_id, task = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    response = revoke(tokens["crm_a"], consent_id, {})
    assert response.status_code == 200 and response.json()["revocation_channel"] == "other"
    assert_cancelled(task, "consent_revoked")


def test_a_long_reason_is_truncated_not_refused(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    consent_id, task = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    reason = "Please stop calling me. " * 100  # 2,400 characters
    response = revoke(tokens["crm_a"], consent_id, {"channel": "crm", "reason": reason})
    assert response.status_code == 200, response.json()
    stored = Consent.objects.get(pk=consent_id).revocation_reason
    assert stored == reason.strip()[:500]
    assert_cancelled(task, "consent_revoked")


def test_a_revocation_dated_before_the_consent_counts_from_its_start(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    consent_id, task = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    typed_wrong = (SIGNED - timedelta(days=400)).isoformat()
    response = revoke(tokens["crm_a"], consent_id, {"channel": "call", "revoked_at": typed_wrong})
    assert response.status_code == 200, response.json()
    assert Consent.objects.get(pk=consent_id).revoked_at == SIGNED
    assert_cancelled(task, "consent_revoked")


def test_only_an_unknown_consent_is_refused(portfolio: Portfolio, tokens: dict[str, str]) -> None:
    consent_id, task = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    assert revoke(tokens["crm_b"], consent_id, {"channel": "call"}).status_code == 404
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_dnc_request_with_long_source_and_note_is_recorded(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    task_b = post(tokens["crm_b"], "callbacks/", {"phone": NUMBER}).json()["task"]["id"]
    response = post(
        tokens["crm_a"],
        "dnc/",
        {"number": NUMBER, "source": "crm webhook " * 20, "note": "STOP. " * 300},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["internal"] is True
    entry = InternalDncEntry.objects.get(removed_at__isnull=True)
    assert entry.source == ("crm webhook " * 20).strip()[:50]
    assert entry.note == ("STOP. " * 300).strip()[:500]
    assert_cancelled(CallTask.objects.get(pk=task_b), "internal_dnc")


def test_a_dnc_request_without_a_number_is_refused(tokens: dict[str, str]) -> None:
    response = post(tokens["crm_a"], "dnc/", {"source": "sms", "note": "STOP"})
    assert response.status_code == 400 and error_fields(response) == {"number"}
    assert not InternalDncEntry.objects.exists()


def test_dnc_requested_on_a_closed_task_is_recorded(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    closed = post(tokens["crm_a"], "callbacks/", {"phone": NUMBER}).json()["task"]["id"]
    started = (timezone.now() - timedelta(hours=1)).isoformat()
    done = post(
        tokens["crm_a"],
        "attempts/",
        {"task": closed, "started_at": started, "outcome": "connected"},
    )
    assert done.status_code == 201, done.json()
    assert CallTask.objects.get(pk=closed).status == "done"
    elsewhere = post(tokens["crm_b"], "callbacks/", {"phone": NUMBER}).json()["task"]["id"]

    later = (timezone.now() - timedelta(minutes=5)).isoformat()
    response = post(
        tokens["crm_a"],
        "attempts/",
        {"task": closed, "started_at": later, "outcome": "dnc_requested"},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["outcome"] == "dnc_requested"
    assert post(tokens["crm_a"], "dnc/lookup/", {"number": NUMBER}).json()["internal"] is True
    assert CallTask.objects.get(pk=closed).status == "done"  # not reopened
    assert_cancelled(CallTask.objects.get(pk=elsewhere), "internal_dnc")
    # A closed task still takes no other outcome.
    refused = post(
        tokens["crm_a"],
        "attempts/",
        {"task": closed, "started_at": started, "outcome": "busy"},
    )
    assert refused.status_code == 400 and error_fields(refused) == {"task"}


def test_a_deactivated_programs_client_still_opts_out_and_revokes(
    portfolio: Portfolio, tokens: dict[str, str]
) -> None:
    consent_id, task_a = consent_with_a_pending_call(portfolio, tokens["crm_a"])
    task_b = post(tokens["crm_b"], "callbacks/", {"phone": NUMBER}).json()["task"]["id"]
    Program.objects.filter(pk=portfolio.program_a.pk).update(active=False)

    revoked = revoke(tokens["crm_a"], consent_id, {"channel": "letter"})
    assert revoked.status_code == 200, revoked.json()
    assert revoked.json()["state"] == "revoked"
    assert_cancelled(task_a, "consent_revoked")

    opted_out = post(tokens["crm_a"], "dnc/", {"number": NUMBER, "source": "sms"})
    assert opted_out.status_code == 201, opted_out.json()
    assert_cancelled(CallTask.objects.get(pk=task_b), "internal_dnc")

    recorded = post(
        tokens["crm_a"],
        "attempts/",
        {
            "task": task_a.pk,
            "started_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "outcome": "dnc_requested",
        },
    )
    assert recorded.status_code == 201, recorded.json()

    # Anything else from that client is still refused, and says why.
    refused = post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0199"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert not CallTask.objects.filter(queue__program=portfolio.program_a, status="pending")
