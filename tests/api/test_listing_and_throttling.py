"""Pagination, filtering (django-filter) and the per-client throttle."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from dialer.models import ApiClient
from tests.api.conftest import error_fields, get, post
from tests.conftest import Portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_tasks(tokens: dict[str, str]) -> list[int]:
    numbers = ("305-555-0101", "305-555-0102", "305-555-0103")
    return [post(tokens["crm_a"], "callbacks/", {"phone": n}).json()["task"]["id"] for n in numbers]


class TestPagination:
    def test_it_pages_with_limit_and_offset(
        self, tokens: dict[str, str], three_tasks: list[int]
    ) -> None:
        first = get(tokens["crm_a"], "tasks/?limit=2").json()
        assert first["count"] == 3
        assert [t["id"] for t in first["results"]] == sorted(three_tasks, reverse=True)[:2]
        assert "offset=2" in first["next"] and first["previous"] is None
        last = get(tokens["crm_a"], "tasks/?limit=2&offset=2").json()
        assert [t["id"] for t in last["results"]] == [min(three_tasks)]
        assert last["next"] is None

    @pytest.mark.parametrize(
        "query", ["limit=0", "limit=501", "limit=ten", "offset=-1", "offset=1&offset=2", "limit="]
    )
    def test_a_malformed_page_is_bad_input(
        self, tokens: dict[str, str], three_tasks: list[int], query: str
    ) -> None:
        response = get(tokens["crm_a"], f"tasks/?{query}")
        assert response.status_code == 400
        assert error_fields(response) & {"limit", "offset"}

    def test_another_programs_objects_are_not_counted(
        self, tokens: dict[str, str], three_tasks: list[int]
    ) -> None:
        assert get(tokens["crm_b"], "tasks/").json()["count"] == 0


class TestFiltering:
    def test_tasks_by_status_queue_and_origin(
        self, portfolio: Portfolio, tokens: dict[str, str], three_tasks: list[int]
    ) -> None:
        post(tokens["crm_a"], "dnc/", {"number": "305-555-0101"})  # cancels one
        pending = get(tokens["crm_a"], "tasks/?status=pending").json()
        cancelled = get(tokens["crm_a"], "tasks/?status=cancelled").json()
        assert pending["count"] == 2 and cancelled["count"] == 1
        assert get(tokens["crm_a"], "tasks/?queue=callback&origin=api").json()["count"] == 3
        assert get(tokens["crm_a"], "tasks/?queue=reactivation").json()["count"] == 0

    def test_queues_by_purpose_and_active(self, tokens: dict[str, str]) -> None:
        api = tokens["manager_a"]
        assert get(api, "queues/?active=true").json()["count"] == 2
        from tests.api.conftest import api_client

        api_client(api).patch(
            "/api/v1/queues/reactivation/", {"active": False}, content_type="application/json"
        )
        assert [q["slug"] for q in get(api, "queues/?active=false").json()["results"]] == [
            "reactivation"
        ]

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("tasks/?status=sleeping", "status"),
            ("tasks/?status=", "status"),
            ("tasks/?status=pending&status=done", "status"),
            ("queues/?active=maybe", "active"),
            ("queues/?purpose=sales", "purpose"),
            ("consents/?kind=verbal", "kind"),
            ("consents/?contact=first", "contact"),
            # A misspelt filter would otherwise list everything; an odd name is not echoed.
            ("tasks/?stauts=done", "stauts"),
            ("consents/?kind=part2&=", "query"),
            ("queues/?%2B12125550101=1", "query"),
        ],
    )
    def test_a_filter_it_cannot_read_is_bad_input(
        self, tokens: dict[str, str], path: str, field: str
    ) -> None:
        response = get(tokens["crm_a"], path)
        assert response.status_code == 400
        assert error_fields(response) == {field}


class TestThrottle:
    @pytest.fixture
    def three_an_hour(self, settings: Any, tokens: dict[str, str]) -> None:
        redis = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        for client in ApiClient.objects.all():
            # Counters a run before this one (same ids, same minute) may have left.
            for key in redis.scan_iter(f"*throttle_client_{client.pk}:*"):
                redis.delete(key)
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"client": "3/hour"},  # a window boundary mid-test is rare
        }

    def test_each_client_has_its_own_allowance(
        self, tokens: dict[str, str], three_an_hour: None
    ) -> None:
        answers = [get(tokens["crm_a"], "queues/").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        throttled = get(tokens["crm_a"], "queues/")
        assert throttled.json()["error"]["code"] == "throttled"
        assert int(throttled["Retry-After"]) > 0
        # Another client of the same program, and a client of another program, are not slowed.
        assert get(tokens["manager_a"], "queues/").status_code == 200
        assert get(tokens["crm_b"], "queues/").status_code == 200

    def test_a_windows_counter_expires_with_its_window(
        self, tokens: dict[str, str], three_an_hour: None
    ) -> None:
        redis = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        client = ApiClient.objects.get(name="crm-a")
        get(tokens["crm_a"], "queues/")
        get(tokens["crm_a"], "queues/")
        (key,) = redis.scan_iter(f"*throttle_client_{client.pk}:*")
        assert int(redis.get(key)) == 2
        assert 0 < redis.ttl(key) <= 3600 + 1  # the hour's window, and a second
