"""POST /consents/, GET /consents/{id}/, POST /consents/{id}/revoke/ and the consent list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consent.models import Consent
from dialer.models import CallTask
from tests.api.conftest import error_fields, get, post
from tests.conftest import Portfolio

pytestmark = pytest.mark.django_db

SIGNED = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
PART2_ELEMENTS = (
    "recipients",
    "description",
    "purposes",
    "signature",
    "revocation_notice_given",
)


def part2_body(portfolio: Portfolio, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact": portfolio.contact_a.pk,
        "kind": "part2",
        "purposes": ["reactivation", "to stay in touch after discharge"],
        "signed_at": SIGNED.isoformat(),
        "expires_at": (SIGNED + timedelta(days=365)).isoformat(),
        "signature": "/s/ signed on paper",
        "recipients": [portfolio.program_a.slug, "Dr. Outside Clinic"],
        "description": "attendance and discharge date",
        "revocation_notice_given": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def written_body(portfolio: Portfolio, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact": portfolio.contact_a.pk,
        "kind": "tcpa_written",
        "number": "(305) 555-0123",
        "purposes": ["reactivation"],
        "signed_at": SIGNED.isoformat(),
        "signature": "/s/ e-sign 4471",
    }
    body.update(overrides)
    return body


class TestCreate:
    def test_it_records_a_part2_consent_with_every_element(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_a"], "consents/", part2_body(portfolio))
        assert response.status_code == 201, response.json()
        body = response.json()
        consent = Consent.objects.get(pk=body["id"])
        assert consent.kind == "part2" and consent.source == "api"
        assert list(consent.recipient_programs.all()) == [portfolio.program_a]
        assert consent.outside_recipient_list == ["Dr. Outside Clinic"]
        assert body["recipients"] == ["prog-a", "Dr. Outside Clinic"]
        assert body["purposes"] == ["reactivation", "to stay in touch after discharge"]
        assert body["discloser"] == "Program A"  # defaults to the token's program
        assert body["state"] == "active" and body["revoked_at"] is None
        assert AuditEvent.objects.filter(action="consent.recorded", object_id=str(body["id"]))

    def test_it_reads_the_consent_back(self, portfolio: Portfolio, tokens: dict[str, str]) -> None:
        created = post(tokens["crm_a"], "consents/", written_body(portfolio)).json()
        response = get(tokens["crm_a"], f"consents/{created['id']}/")
        assert response.status_code == 200
        assert response.json() == created
        assert created["number"] == "+13055550123"

    def test_an_explicit_null_expiry_means_none(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_a"], "consents/", part2_body(portfolio, expires_at=None))
        assert response.status_code == 201, response.json()
        assert response.json()["expires_at"] is None
        assert response.json()["expires_never"] is True

    def test_an_expiration_event_stands_for_the_date(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        body = part2_body(portfolio, expires_at=..., expiration_event="discharge plus one year")
        response = post(tokens["crm_a"], "consents/", body)
        assert response.status_code == 201, response.json()
        assert response.json()["expiration_event"] == "discharge plus one year"
        assert response.json()["expires_never"] is False


class TestPart2ElementsMissing:
    @pytest.mark.parametrize("element", PART2_ELEMENTS)
    def test_a_missing_element_is_named_and_nothing_is_stored(
        self, portfolio: Portfolio, tokens: dict[str, str], element: str
    ) -> None:
        events = AuditEvent.objects.count()
        response = post(tokens["crm_a"], "consents/", part2_body(portfolio, **{element: ...}))
        assert response.status_code == 400
        assert error_fields(response) == {element}
        assert "2.31" in response.json()["error"]["fields"][element][0]
        assert Consent.objects.count() == 0
        assert AuditEvent.objects.count() == events

    def test_an_expiry_left_out_is_not_an_expiry_of_none(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_a"], "consents/", part2_body(portfolio, expires_at=...))
        assert response.status_code == 400
        assert error_fields(response) == {"expires_at"}
        assert Consent.objects.count() == 0

    def test_a_date_without_a_time_zone_is_refused(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(
            tokens["crm_a"], "consents/", part2_body(portfolio, signed_at="2026-01-05T10:00:00")
        )
        assert response.status_code == 400
        assert error_fields(response) == {"signed_at"}

    def test_a_bad_number_is_named_and_not_echoed(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_a"], "consents/", written_body(portfolio, number="305-55"))
        assert response.status_code == 400
        assert error_fields(response) == {"number"}
        assert "305-55" not in response.content.decode()
        assert Consent.objects.count() == 0

    def test_a_tcpa_consent_needs_its_number(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        body = written_body(portfolio)
        del body["number"]
        response = post(tokens["crm_a"], "consents/", body)
        assert response.status_code == 400 and error_fields(response) == {"number"}


class TestScope:
    def test_another_programs_contact_is_unknown(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_b"], "consents/", part2_body(portfolio))
        assert response.status_code == 400
        assert error_fields(response) == {"contact"}
        assert Consent.objects.count() == 0

    def test_another_programs_consent_answers_404(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        consent_id = post(tokens["crm_a"], "consents/", part2_body(portfolio)).json()["id"]
        assert get(tokens["crm_b"], f"consents/{consent_id}/").status_code == 404
        revoke = post(tokens["crm_b"], f"consents/{consent_id}/revoke/", {"channel": "crm"})
        assert revoke.status_code == 404
        assert revoke.json()["error"]["code"] == "not_found"
        assert Consent.objects.get(pk=consent_id).revoked_at is None
        assert get(tokens["crm_a"], f"consents/{consent_id + 1000}/").status_code == 404

    def test_the_list_shows_only_this_programs_consents(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        post(tokens["crm_a"], "consents/", part2_body(portfolio))
        post(tokens["crm_a"], "consents/", written_body(portfolio))
        assert get(tokens["crm_b"], "consents/").json()["count"] == 0
        listing = get(tokens["crm_a"], "consents/?kind=tcpa_written").json()
        assert [c["kind"] for c in listing["results"]] == ["tcpa_written"]
        by_contact = get(tokens["crm_a"], f"consents/?contact={portfolio.contact_a.pk}").json()
        assert by_contact["count"] == 2

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "consents/"),
            ("post", "consents/"),
            ("get", "consents/1/"),
            ("post", "consents/1/revoke/"),
        ],
    )
    def test_no_token_answers_401(self, portfolio: Portfolio, method: str, path: str) -> None:
        from tests.api.conftest import JSON, api_client

        response = getattr(api_client(None), method)(f"/api/v1/{path}", {}, content_type=JSON)
        assert response.status_code == 401


class TestRepeats:
    def test_the_same_consent_sent_again_answers_the_first(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        first = post(tokens["crm_a"], "consents/", part2_body(portfolio))
        again = post(tokens["crm_a"], "consents/", part2_body(portfolio))
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert Consent.objects.count() == 1
        assert AuditEvent.objects.filter(action="consent.recorded").count() == 1

    def test_another_consent_signed_at_the_same_time_is_recorded(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        post(tokens["crm_a"], "consents/", part2_body(portfolio))
        other = post(
            tokens["crm_a"], "consents/", part2_body(portfolio, recipients=["Another Clinic"])
        )
        assert other.status_code == 201
        assert Consent.objects.count() == 2


class TestRevoke:
    def test_revoking_cancels_the_calls_it_covered_at_once(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        consent = post(tokens["crm_a"], "consents/", written_body(portfolio)).json()
        attempt = post(
            tokens["crm_a"],
            "attempts/",
            {
                "contact": portfolio.contact_a.pk,
                "queue": "reactivation",
                "number": "305-555-0123",
                "started_at": (timezone.now() - timedelta(days=2)).isoformat(),
                "outcome": "no_answer",
            },
        )
        assert attempt.status_code == 201, attempt.json()
        task = CallTask.objects.get(queue=portfolio.reactivation_a)
        assert task.status == "pending"

        response = post(tokens["crm_a"], f"consents/{consent['id']}/revoke/", {"channel": "email"})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["state"] == "revoked" and body["revocation_channel"] == "email"
        task.refresh_from_db()
        assert (task.status, task.closed_reason) == ("cancelled", "consent_revoked")

    def test_a_second_revocation_changes_nothing(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        consent = post(tokens["crm_a"], "consents/", written_body(portfolio)).json()
        earlier = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
        first = post(
            tokens["crm_a"],
            f"consents/{consent['id']}/revoke/",
            {"channel": "text", "revoked_at": earlier.isoformat()},
        )
        again = post(tokens["crm_a"], f"consents/{consent['id']}/revoke/", {"channel": "call"})
        assert first.status_code == again.status_code == 200
        assert again.json()["revoked_at"] == first.json()["revoked_at"]
        assert again.json()["revocation_channel"] == "text"
        assert AuditEvent.objects.filter(action="consent.revoked").count() == 1

    def test_a_time_that_is_not_one_is_named_and_changes_nothing(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        # Any wording is taken (tests/seams/test_optouts_never_refused.py); a
        # revoked_at that is not a time with its zone is not wording.
        consent = post(tokens["crm_a"], "consents/", written_body(portfolio)).json()
        path = f"consents/{consent['id']}/revoke/"
        for when in ("last Tuesday", (SIGNED + timedelta(hours=1)).replace(tzinfo=None)):
            response = post(tokens["crm_a"], path, {"channel": "crm", "revoked_at": str(when)})
            assert response.status_code == 400 and error_fields(response) == {"revoked_at"}
        assert Consent.objects.get(pk=consent["id"]).revoked_at is None
