"""The demo works on the first click: seed_demo offers a call at once when a demo caller's
window is open, says so when none is, prints a working API token, and builds the portfolio
the README walks through (an alumnus without Part 2 consent, numbers on the internal list,
a registry sample loaded and fresh, so that reactivation calls are not refused)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from dialer.api.clients import api_client_for_token
from dialer.management.demo_data import DEMO_PASSWORD
from dialer.models import CallAttempt, CallTask
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.preview import preview_take_next
from dnc.models import InternalDncEntry, RegistryLoad
from dnc.selectors import registry_as_of_many
from tests.conftest import authenticator, totp_code
from tests.dnc.conftest import index_dir  # noqa: F401 (autouse: a private registry index)


def _next_monday(hour: int) -> datetime:
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, time(hour), tzinfo=UTC)


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _token(output: str) -> str:
    found = re.search(r"API token of .*: (\S+)$", output, re.MULTILINE)
    assert found is not None, output
    return found.group(1)


@pytest.mark.django_db
def test_at_an_open_hour_the_demo_staff_member_gets_a_call_on_the_first_take() -> None:
    # 18:00 UTC: 13:00 in Miami, 10:00 in Los Angeles, 08:00 in Honolulu.
    with time_machine.travel(_next_monday(18), tick=True):
        output = _seed()
        assert "ready in My calls" in output
        attempt = preview_take_next(user=User.objects.get(username="staff.harbor"))
    assert attempt is not None
    assert attempt.task.queue.purpose == "callback"
    assert attempt.task.queue.program.slug == "harbor-recovery"


@pytest.mark.django_db
def test_when_no_window_is_open_the_demo_says_so_and_offers_nothing() -> None:
    # 10:00 UTC: 05:00 in Miami, 00:00 in Honolulu: the law's windows are closed everywhere.
    with time_machine.travel(_next_monday(10), tick=True):
        output = _seed()
        assert "No demo call can be offered right now" in output
        assert "The first opens at" in output
        assert preview_take_next(user=User.objects.get(username="staff.harbor")) is None


@pytest.mark.django_db
def test_the_printed_token_works_and_a_second_run_retires_it() -> None:
    first = _token(_seed())
    client = api_client_for_token(first)
    assert client is not None and client.program.slug == "harbor-recovery"
    second = _token(_seed())
    assert api_client_for_token(first) is None
    assert api_client_for_token(second) is not None


@pytest.mark.django_db
def test_the_portfolio_has_an_alumnus_without_part2_consent_and_internal_dnc_numbers() -> None:
    _seed()
    alumni = CallTask.objects.filter(queue__purpose="reactivation", status="pending")
    assert "HR-1003" in {t.contact.external_id for t in alumni}
    assert "HR-1004" not in {t.contact.external_id for t in alumni}  # no Part 2 consent
    assert InternalDncEntry.objects.count() >= 2


@pytest.mark.django_db
def test_after_seeding_the_demo_staff_member_signs_in_and_the_first_click_gives_a_call() -> None:
    # What the README's first five minutes do, through the pages: password, second
    # factor, My calls, "Take the next call" (18:00 UTC: Miami, Chicago, Denver, Los
    # Angeles and Honolulu are in their windows).
    with time_machine.travel(_next_monday(18), tick=False):
        _seed()
        staff = User.objects.get(username="staff.harbor")
        client = Client()
        response = client.post(
            "/admin/login/", {"username": staff.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, response
        response = client.post(response["Location"], {"otp_token": totp_code(authenticator(staff))})
        assert response.status_code == 302, response
        page = client.get("/admin/dialer/mycall/")
        assert page.status_code == 200
        response = client.post("/admin/dialer/mycall/", {"action": "take"})
        assert response.status_code == 302
        in_hand = CallAttempt.objects.get(placed_by=staff, outcome="")
        page = client.get("/admin/dialer/mycall/")
    assert in_hand.task.queue.purpose == "callback"
    html = page.content.decode()
    assert 'id="dial-form"' in html and "You have no call in hand" not in html


@pytest.mark.django_db
def test_the_registry_sample_is_fresh_so_an_alumnus_is_offered_not_refused() -> None:
    # 18:00 UTC: 13:00 in New York, inside the alumni queue's 10:00-19:00.
    with time_machine.travel(_next_monday(18), tick=True):
        output = _seed()
        today = datetime.now(UTC).date()
        assert "national full as of" in output and "state:FL full as of" in output
        copies = registry_as_of_many(numbers=["+12125550199", "+13055550125"])
        assert {c.national for c in copies.values()} == {today}
        assert {c.states["FL"] for c in copies.values()} == {today}
        alumnus = CallTask.objects.get(
            queue__purpose="reactivation", contact__external_id="HR-1003"
        )
        result = dispatch_task(task_id=alumnus.pk)
        alumnus.refresh_from_db()
    assert result.status == "placed", (result, alumnus.closed_reason)


@pytest.mark.django_db
def test_a_rerun_reloads_the_registry_sample_only_once_it_is_stale() -> None:
    start = _next_monday(18)
    with time_machine.travel(start, tick=True):
        _seed()
        loads = RegistryLoad.objects.count()
        assert loads >= 2  # the national list and Florida's
        assert "full as of" not in _seed()
        assert RegistryLoad.objects.count() == loads
    with time_machine.travel(start + timedelta(days=32), tick=True):
        output = _seed()
        assert "national full as of" in output
        assert RegistryLoad.objects.count() == 2 * loads
        copies = registry_as_of_many(numbers=["+12125550199"])
        assert copies["+12125550199"].national == datetime.now(UTC).date()
