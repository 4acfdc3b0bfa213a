"""Staff presence: available staff are offered calls; a closed page or a call in hand is not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dialer.models import CallAttempt, PresenceState
from dialer.presence import PresenceError, available_staff, presence_seen, presence_set
from tests.conftest import Portfolio
from tests.runtime.helpers import new_task


@pytest.mark.django_db
def test_it_offers_available_staff_of_the_program_longest_waiting_first(
    portfolio: Portfolio,
) -> None:
    now = timezone.now()
    presence_set(user=portfolio.staff_a, state="available", answer_at="(212) 555-0187", now=now)
    presence_set(
        user=portfolio.manager_a, state="available", answer_at="sip:desk@pbx.example", now=now
    )
    presence_set(user=portfolio.staff_b, state="available", answer_at="602-555-0100", now=now)
    found = available_staff(program_ids=[portfolio.program_a.pk], now=now)
    assert [(s.user_id, s.answer_at) for s in found] == [
        (portfolio.staff_a.pk, "+12125550187"),
        (portfolio.manager_a.pk, "sip:desk@pbx.example"),
    ]


@pytest.mark.django_db
def test_it_drops_a_presence_not_seen_in_time_and_one_kept_alive_stays(
    portfolio: Portfolio, settings: object
) -> None:
    now = timezone.now()
    presence_set(user=portfolio.staff_a, state="available", answer_at="212-555-0187", now=now)
    later = now + timedelta(seconds=120)
    assert available_staff(program_ids=[portfolio.program_a.pk], now=later) == []
    presence_seen(user=portfolio.staff_a, now=later)
    assert len(available_staff(program_ids=[portfolio.program_a.pk], now=later)) == 1


@pytest.mark.django_db
def test_it_does_not_offer_staff_with_a_call_in_hand_or_away(portfolio: Portfolio) -> None:
    now = timezone.now()
    presence_set(user=portfolio.staff_a, state="available", answer_at="212-555-0187", now=now)
    task = new_task(portfolio.callback_a, portfolio.contact_a)
    CallAttempt.objects.create(
        task=task,
        phone=task.phone,
        attempt_number=1,
        started_at=now,
        placed_by=portfolio.staff_a,
        backend="twilio",
    )
    assert available_staff(program_ids=[portfolio.program_a.pk], now=now) == []
    CallAttempt.objects.filter(task=task).update(outcome="connected")
    presence_set(user=portfolio.staff_a, state=PresenceState.AWAY, now=now)
    assert available_staff(program_ids=[portfolio.program_a.pk], now=now) == []


@pytest.mark.django_db
def test_it_needs_an_answer_point_and_names_the_field(portfolio: Portfolio) -> None:
    now = timezone.now()
    with pytest.raises(PresenceError) as no_address:
        presence_set(user=portfolio.staff_a, state="available", now=now)
    assert no_address.value.field == "answer_at"
    with pytest.raises(PresenceError) as bad:
        presence_set(user=portfolio.staff_a, state="away", answer_at="not a phone", now=now)
    assert bad.value.field == "answer_at" and "not a phone" not in str(bad.value)
    with pytest.raises(PresenceError) as state:
        presence_set(user=portfolio.staff_a, state="napping", now=now)
    assert state.value.field == "state"


@pytest.mark.django_db
def test_the_manager_opens_the_supervisor_view_with_their_programs_staff_only(
    portfolio: Portfolio,
) -> None:
    now = timezone.now()
    presence_set(user=portfolio.staff_a, state="available", answer_at="(212) 555-0187", now=now)
    presence_set(user=portfolio.staff_b, state="available", answer_at="602-555-0100", now=now)
    client = Client()
    client.force_login(portfolio.manager_a)
    page = client.get("/admin/dialer/staffpresence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Supervisor view" in html and "staff-a" in html
    assert "staff-b" not in html  # another program's staff
