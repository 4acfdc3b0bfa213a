"""Each endpoint: the happy path, no token (401), another program's object (404),
bad input (400 naming the field, nothing changed), and idempotent retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, Queue
from dialer.models import CallAttempt, CallTask
from tests.api.conftest import JSON, api_client, error_fields, get, post
from tests.conftest import Portfolio, make_queue

# token, what is on file (queue, contact, number, open task), then DNC, consents,
# attempts and RND answers (sent together, one round trip), registry version and
# coverage (kept per version once a registry is loaded; there is none here).
ELIGIBILITY_QUERIES = 8
STARTED = (timezone.now() - timedelta(hours=1)).isoformat()

pytestmark = pytest.mark.django_db


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "queues/"),
            ("post", "contacts/"),
            ("post", "callbacks/"),
            ("post", "eligibility/"),
            ("get", "tasks/1/"),
            ("post", "attempts/"),
            ("post", "dnc/"),
        ],
    )
    def test_it_answers_401_without_a_token(
        self, portfolio: Portfolio, method: str, path: str
    ) -> None:
        client = api_client(None)
        response = getattr(client, method)(f"/api/v1/{path}", {}, content_type=JSON)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_it_answers_401_with_a_wrong_token(self, portfolio: Portfolio) -> None:
        assert get("not-a-token", "queues/").status_code == 401


class TestQueues:
    def test_a_manager_creates_and_patches_a_queue(self, tokens: dict[str, str]) -> None:
        body = {
            "slug": "evening",
            "name": "Evening callbacks",
            "purpose": "callback",
            "window_start": "17:00",
            "window_end": "20:30",
            "days": ["mon", "wed"],
            "max_attempts": 2,
            "retry_minutes": 30,
            "script": "Hi, returning your call.",
        }
        created = post(tokens["manager_a"], "queues/", body)
        assert created.status_code == 201, created.json()
        assert created.json()["days"] == ["mon", "wed"]
        assert created.json()["consent_basis"] == "own_request"
        patched = api_client(tokens["manager_a"]).patch(
            "/api/v1/queues/evening/",
            {"script": "Version two.", "active": False},
            content_type=JSON,
        )
        assert patched.status_code == 200, patched.json()
        assert patched.json()["script_version"] == 2
        assert patched.json()["active"] is False

    def test_a_crm_client_cannot_create_queues(self, tokens: dict[str, str]) -> None:
        response = post(tokens["crm_a"], "queues/", {"slug": "x"})
        assert response.status_code == 403

    def test_bad_input_names_the_field_and_changes_nothing(self, tokens: dict[str, str]) -> None:
        before = Queue.objects.count()
        response = post(
            tokens["manager_a"],
            "queues/",
            {"slug": "x", "name": "X", "purpose": "sales", "script": "Hi", "window_start": "25:00"},
        )
        assert response.status_code == 400
        assert {"purpose", "window_start"} <= error_fields(response)
        assert Queue.objects.count() == before

    def test_another_programs_queue_answers_404(self, tokens: dict[str, str]) -> None:
        assert get(tokens["crm_b"], "queues/callback/").status_code == 200  # B's own
        response = api_client(tokens["crm_b"]).patch(
            "/api/v1/queues/reactivation/", {"active": False}, content_type=JSON
        )
        assert response.status_code in (403, 404)
        assert get(tokens["crm_b"], "queues/reactivation/").status_code == 404

    def test_list_is_scoped_and_filterable(self, tokens: dict[str, str]) -> None:
        listing = get(tokens["crm_a"], "queues/?purpose=reactivation").json()
        assert [q["slug"] for q in listing["results"]] == ["reactivation"]


class TestContacts:
    def test_it_creates_a_contact_with_numbers_in_any_format(self, tokens: dict[str, str]) -> None:
        response = post(
            tokens["crm_a"],
            "contacts/",
            {
                "external_id": "CRM-9",
                "first_name": "Robin",
                "last_name": "Gray",
                "phones": [
                    {"number": "(305) 555-0188", "line_type": "mobile", "provided_by_patient": True}
                ],
                "state": "FL",
                "postal_code": "33101",
                "patient_status": "former",
            },
        )
        assert response.status_code == 201, response.json()
        assert response.json()["phones"][0]["number"] == "+13055550188"
        contact_id = response.json()["id"]
        assert get(tokens["crm_a"], f"contacts/{contact_id}/").status_code == 200
        assert get(tokens["crm_b"], f"contacts/{contact_id}/").status_code == 404

    def test_a_bad_number_is_refused_without_echo_and_nothing_is_stored(
        self, tokens: dict[str, str]
    ) -> None:
        before = Contact.objects.count()
        response = post(
            tokens["crm_a"],
            "contacts/",
            {"external_id": "CRM-10", "first_name": "Robin", "phones": [{"number": "555-01"}]},
        )
        assert response.status_code == 400
        assert "phones" in error_fields(response)
        assert "555-01" not in response.content.decode()
        assert "Robin" not in response.content.decode()
        assert Contact.objects.count() == before


class TestCallbacks:
    def test_it_creates_a_task_with_its_first_decision(self, tokens: dict[str, str]) -> None:
        response = post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0190", "source": "ad"})
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["task"]["queue"] == "callback"
        assert set(body["decision"]) >= {
            "allowed",
            "reasons",
            "next_allowed_at",
            "zones",
            "evaluated_at",
        }
        # A Florida number: its area code presumes Florida, whose panhandle is on Central time.
        assert "America/New_York" in body["decision"]["zones"]

    def test_a_refused_callback_is_saved_ended_and_audited_and_an_open_task_is_kept(
        self, tokens: dict[str, str]
    ) -> None:
        from dnc.services import internal_dnc_add

        # An open task first, then the number on the internal list (the entry alone:
        # nothing cancels the open task), then a callback for another number on the list.
        open_task = post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0196"}).json()["task"]
        for e164 in ("+13055550196", "+13055550197"):
            internal_dnc_add(
                number_e164=e164, source="tests", note="", actor="system:tests", program_id=None
            )
        refused = post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0197"})
        assert refused.status_code == 201, refused.json()
        body = refused.json()
        assert body["created"] is True and body["decision"]["allowed"] is False
        task = CallTask.objects.get(pk=body["task"]["id"])
        assert task.status == "cancelled" and task.closed_reason == "internal_dnc"
        assert task.last_decision == body["decision"]
        actions = AuditEvent.objects.filter(object_type="call_task", object_id=str(task.pk))
        assert sorted(actions.values_list("action", flat=True)) == ["task.created", "task.refused"]
        # The same number with an open task on the queue: that task answers, no ended copy.
        again = post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0196"})
        assert again.status_code == 200, again.json()
        assert again.json()["created"] is False and again.json()["task"]["id"] == open_task["id"]
        assert CallTask.objects.count() == 2

    def test_a_repeat_with_the_same_key_answers_the_same_task(self, tokens: dict[str, str]) -> None:
        body = {"phone": "305-555-0191"}
        first = post(tokens["crm_a"], "callbacks/", body, HTTP_IDEMPOTENCY_KEY="k-1")
        again = post(tokens["crm_a"], "callbacks/", body, HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert first.json()["task"]["id"] == again.json()["task"]["id"]
        assert CallTask.objects.count() == 1

    def test_the_same_key_with_another_body_answers_409(self, tokens: dict[str, str]) -> None:
        post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0192"}, HTTP_IDEMPOTENCY_KEY="k-2")
        other = post(
            tokens["crm_a"], "callbacks/", {"phone": "305-555-0193"}, HTTP_IDEMPOTENCY_KEY="k-2"
        )
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        assert CallTask.objects.count() == 1

    def test_a_repeat_writes_nothing_more(self, tokens: dict[str, str]) -> None:
        body = {"phone": "305-555-0189", "source": "web-form"}
        first = post(tokens["crm_a"], "callbacks/", body, HTTP_IDEMPOTENCY_KEY="k-3")
        written = (Contact.objects.count(), AuditEvent.objects.count())
        again = post(tokens["crm_a"], "callbacks/", body, HTTP_IDEMPOTENCY_KEY="k-3")
        assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
        assert again.json()["task"]["id"] == first.json()["task"]["id"]
        assert (Contact.objects.count(), AuditEvent.objects.count()) == written

    @pytest.mark.parametrize(
        "other",
        [
            {"phone": "12"},  # refused by its own fields
            {"phone": "305-555-0188", "queue": "nope"},  # refused by what is on file
        ],
    )
    def test_a_kept_key_answers_before_the_body_is_judged(
        self, tokens: dict[str, str], other: dict[str, str]
    ) -> None:
        body = {"phone": "305-555-0187"}
        post(tokens["crm_a"], "callbacks/", body, HTTP_IDEMPOTENCY_KEY="k-4")
        reused = post(tokens["crm_a"], "callbacks/", other, HTTP_IDEMPOTENCY_KEY="k-4")
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        # A refused request keeps no key: the same key with a good body is then new.
        bad = post(tokens["crm_a"], "callbacks/", other, HTTP_IDEMPOTENCY_KEY="k-5")
        assert bad.status_code == 400
        good = post(
            tokens["crm_a"], "callbacks/", body | {"source": "x"}, HTTP_IDEMPOTENCY_KEY="k-5"
        )
        assert good.status_code == 200 and "Idempotent-Replayed" not in good
        assert CallTask.objects.count() == 1

    def test_keys_are_per_client(self, tokens: dict[str, str]) -> None:
        a = post(
            tokens["crm_a"], "callbacks/", {"phone": "305-555-0194"}, HTTP_IDEMPOTENCY_KEY="same"
        )
        b = post(
            tokens["crm_b"], "callbacks/", {"phone": "602-555-0194"}, HTTP_IDEMPOTENCY_KEY="same"
        )
        assert a.status_code == b.status_code == 201
        assert a.json()["task"]["id"] != b.json()["task"]["id"]

    def test_bad_input_changes_nothing(self, tokens: dict[str, str]) -> None:
        response = post(tokens["crm_a"], "callbacks/", {"phone": "12", "queue": "nope"})
        assert response.status_code == 400
        assert "phone" in error_fields(response)
        assert CallTask.objects.count() == 0 and Contact.objects.filter(external_id="").count() == 0

    def test_a_request_dated_in_the_future_is_refused(self, tokens: dict[str, str]) -> None:
        later = (timezone.now() + timedelta(days=30)).isoformat()
        response = post(
            tokens["crm_a"], "callbacks/", {"phone": "305-555-0195", "requested_at": later}
        )
        assert response.status_code == 400 and error_fields(response) == {"requested_at"}
        assert CallTask.objects.count() == 0

    def test_another_programs_contact_is_unknown(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(tokens["crm_b"], "callbacks/", {"contact": portfolio.contact_a.pk})
        assert response.status_code == 400
        assert error_fields(response) == {"contact"}


class TestEligibility:
    def test_it_decides_without_writing(self, portfolio: Portfolio, tokens: dict[str, str]) -> None:
        events = AuditEvent.objects.count()
        response = post(
            tokens["crm_a"],
            "eligibility/",
            {"queue": "reactivation", "phone": "+1 212 555 0100", "at": "2026-11-30T15:00:00Z"},
        )
        assert response.status_code == 200, response.json()
        decision = response.json()
        assert decision["allowed"] is False
        codes = {r["code"] for r in decision["reasons"]}
        assert "consent_missing" in codes  # no written consent for solicitation
        assert decision["next_allowed_at"] is None
        assert AuditEvent.objects.count() == events
        assert CallTask.objects.count() == 0

    def test_a_known_number_is_decided_with_its_contacts_consents(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        # The consent is dated from the instant asked about, never from today: a consent
        # signed "yesterday" is not yet signed at a fixed `at` once that date has passed.
        body = {"queue": "reactivation", "phone": "(305) 555-0123", "at": "2026-12-01T16:00:00Z"}
        before = post(tokens["crm_a"], "eligibility/", body).json()
        assert "consent_missing" in {r["code"] for r in before["reasons"]}
        consent = post(
            tokens["crm_a"],
            "consents/",
            {
                "contact": portfolio.contact_a.pk,
                "kind": "tcpa_written",
                "number": "305-555-0123",
                "purposes": ["reactivation"],
                "signed_at": "2026-11-30T16:00:00Z",
                "signature": "/s/ e-sign",
            },
        )
        assert consent.status_code == 201
        after = post(tokens["crm_a"], "eligibility/", body).json()
        assert "consent_missing" not in {r["code"] for r in after["reasons"]}
        # Another program does not know the number: a new person, without that consent.
        make_queue(portfolio.program_b, "reactivation")
        other = post(tokens["crm_b"], "eligibility/", body).json()
        assert other["allowed"] is False
        assert "consent_missing" in {r["code"] for r in other["reasons"]}

    def test_its_queries_are_few_and_fixed(
        self, tokens: dict[str, str], django_assert_max_num_queries: Any
    ) -> None:
        body = {"queue": "callback", "phone": "305-555-0123", "at": "2026-12-01T16:00:00Z"}
        post(tokens["crm_a"], "eligibility/", body)  # warm the per-process caches
        # The hot path of bench/api.py: if this grows, a query was added per request;
        # batch it with the others (dialer.selectors) rather than raising the bound.
        with django_assert_max_num_queries(ELIGIBILITY_QUERIES):
            assert post(tokens["crm_a"], "eligibility/", body).status_code == 200

    def test_a_callback_at_night_says_when(self, tokens: dict[str, str]) -> None:
        response = post(
            tokens["crm_a"],
            "eligibility/",
            {"queue": "callback", "phone": "305-555-0150", "at": "2026-12-01T03:00:00Z"},
        )
        decision = response.json()
        assert decision["allowed"] is False
        assert {r["code"] for r in decision["reasons"]} == {"outside_calling_window"}
        assert decision["next_allowed_at"] is not None

    def test_another_programs_contact_is_unknown(
        self, portfolio: Portfolio, tokens: dict[str, str]
    ) -> None:
        response = post(
            tokens["crm_b"],
            "eligibility/",
            {"queue": "callback", "contact": portfolio.contact_a.pk},
        )
        assert response.status_code == 400
        assert error_fields(response) == {"contact"}

    def test_bad_input_names_the_field(self, tokens: dict[str, str]) -> None:
        response = post(tokens["crm_a"], "eligibility/", {"queue": "callback"})
        assert response.status_code == 400
        assert "phone" in error_fields(response)


class TestTasksAndAttempts:
    def _task(self, token: str) -> int:
        return int(post(token, "callbacks/", {"phone": "305-555-0160"}).json()["task"]["id"])

    def test_it_reads_a_task_and_records_an_outside_call(self, tokens: dict[str, str]) -> None:
        task_id = self._task(tokens["crm_a"])
        assert get(tokens["crm_a"], f"tasks/{task_id}/").json()["status"] in (
            "pending",
            "in_progress",
        )
        recorded = post(
            tokens["crm_a"],
            "attempts/",
            {
                "task": task_id,
                "started_at": STARTED,
                "outcome": "no_answer",
                "duration_seconds": 20,
            },
        )
        assert recorded.status_code == 201, recorded.json()
        task = get(tokens["crm_a"], f"tasks/{task_id}/").json()
        assert task["attempts"] == 1 and task["status"] == "pending"

    def test_another_programs_task_answers_404(self, tokens: dict[str, str]) -> None:
        task_id = self._task(tokens["crm_a"])
        assert get(tokens["crm_b"], f"tasks/{task_id}/").status_code == 404
        response = post(
            tokens["crm_b"],
            "attempts/",
            {"task": task_id, "started_at": STARTED, "outcome": "busy"},
        )
        assert response.status_code == 400 and error_fields(response) == {"task"}
        assert CallAttempt.objects.count() == 0

    def test_a_bad_outcome_is_refused(self, tokens: dict[str, str]) -> None:
        task_id = self._task(tokens["crm_a"])
        response = post(
            tokens["crm_a"],
            "attempts/",
            {"task": task_id, "started_at": STARTED, "outcome": "great"},
        )
        assert response.status_code == 400 and "outcome" in error_fields(response)
        assert CallAttempt.objects.count() == 0

    def test_dnc_requested_adds_the_number_and_cancels_the_task(
        self, tokens: dict[str, str]
    ) -> None:
        task_id = self._task(tokens["crm_a"])
        post(
            tokens["crm_a"],
            "attempts/",
            {"task": task_id, "started_at": STARTED, "outcome": "dnc_requested"},
        )
        assert get(tokens["crm_a"], "dnc/3055550160/").json()["internal"] is True


class TestDnc:
    def test_an_opt_out_cancels_pending_calls_at_once(self, tokens: dict[str, str]) -> None:
        task_id = int(
            post(tokens["crm_a"], "callbacks/", {"phone": "305-555-0170"}).json()["task"]["id"]
        )
        created = post(
            tokens["crm_b"], "dnc/", {"number": "(305) 555-0170", "source": "sms", "note": "STOP"}
        )
        assert created.status_code == 201, created.json()
        assert created.json() == {
            "number": "+13055550170",
            "internal": True,
            "national": False,
            "states": [],
        }
        assert CallTask.objects.get(pk=task_id).status == "cancelled"

    def test_lookup_in_any_format(self, tokens: dict[str, str]) -> None:
        post(tokens["crm_a"], "dnc/", {"number": "305-555-0171"})
        for form in ("3055550171", "+13055550171", "(305)555-0171"):
            assert get(tokens["crm_a"], f"dnc/{form}/").json()["internal"] is True

    def test_a_bad_number_names_the_field(self, tokens: dict[str, str]) -> None:
        response = post(tokens["crm_a"], "dnc/", {"number": "12345"})
        assert response.status_code == 400 and error_fields(response) == {"number"}
