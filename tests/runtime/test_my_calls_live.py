"""The live part of "My calls" (its poll, `live/`): scoped to the user, no number before
the dial, a withdrawn call explained, and a poll that does not keep an idle session alive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from audit.actors import actor_system
from dialer.acts.optout import dnc_request_record
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.preview import preview_take_next
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, planned_task

LIVE = "/admin/dialer/mycall/live/"
POLL = {"X-Live-Poll": "1"}


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_the_poll_shows_the_users_programs_only_and_no_number_before_the_dial(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    assert dispatch_task(task_id=task.pk).status == "placed"
    staff_b = Client()
    staff_b.force_login(portfolio.staff_b)
    seen_by_b = staff_b.get(LIVE, headers=POLL).json()
    assert "Program A" not in seen_by_b["waiting_html"]

    staff_a = Client()
    staff_a.force_login(portfolio.staff_a)
    assert 'class="offered">1<' in staff_a.get(LIVE, headers=POLL).json()["waiting_html"]
    taken = preview_take_next(user=portfolio.staff_a)
    assert taken is not None
    body = staff_a.get(LIVE, headers=POLL).content.decode()
    assert "5550123" not in body and "Avery" not in body
    assert staff_a.get(LIVE, headers=POLL).json()["in_hand_key"] == f"{taken.pk}:0"


@pytest.mark.django_db
def test_a_call_withdrawn_by_a_dnc_request_is_explained_to_the_page_that_showed_it(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    dispatch_task(task_id=task.pk)
    taken = preview_take_next(user=portfolio.staff_a)
    assert taken is not None
    dnc_request_record(
        number="+13055550123", source="phone", note="", actor=actor_system("t"), program_id=None
    )
    client = Client()
    client.force_login(portfolio.staff_a)
    answer = client.get(LIVE, {"had": taken.pk}, headers=POLL).json()
    assert answer["in_hand_key"] == ""
    assert "withdrawn" in answer["withdrawn"] and "Do not dial" in answer["withdrawn"]
    assert "5550123" not in answer["withdrawn"]
    # Another user's call id says nothing.
    other = Client()
    other.force_login(portfolio.staff_b)
    assert other.get(LIVE, {"had": taken.pk}, headers=POLL).json()["withdrawn"] == ""


@pytest.mark.django_db
def test_the_poll_keeps_the_page_current_but_not_an_idle_session(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    client = Client()
    client.force_login(portfolio.staff_a)
    assert client.get("/admin/dialer/mycall/").status_code == 200  # the last activity
    limit = timedelta(minutes=settings.SIGNIN_IDLE_MINUTES)
    monday.shift(limit - timedelta(seconds=30))
    assert client.get(LIVE, headers=POLL).status_code == 200  # polled: still signed in
    monday.shift(timedelta(seconds=31))
    # Past the limit since the last thing the staff member did: signed out, though polled.
    response = client.get(LIVE, headers=POLL)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
