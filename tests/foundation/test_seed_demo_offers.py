"""The demo works on the first click: seed_demo offers a call at once when a demo caller's
window is open, says so when none is, prints a working API token, and builds the portfolio
the README walks through (an alumnus without Part 2 consent, numbers on the internal list)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command

from dialer.api.clients import api_client_for_token
from dialer.models import CallTask
from dialer.runtime.preview import preview_take_next
from dnc.models import InternalDncEntry


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
