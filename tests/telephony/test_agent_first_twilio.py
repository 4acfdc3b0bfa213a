"""Twilio, agent-first: the staff leg rings first, the contact is dialled into a conference
only once it answers (after the last check), machines and dropped staff legs handled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

pytest.importorskip("twilio", reason="the twilio client is not installed (pip install twilio)")

from campaigns.models import Contact, Purpose
from campaigns.services import PhoneInput, contact_create
from dialer.acts.optout import dnc_request_record
from dialer.models import (
    CallAttempt,
    CallTask,
    Outcome,
    PresenceState,
    StaffPresence,
    TaskStatus,
)
from dialer.presence import presence_set
from dialer.runtime.dispatch import dispatch_task, dispatch_tasks
from dialer.runtime.pacing import pace, waiting_tasks
from tests.conftest import Portfolio, make_user
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, open_queue, planned_task
from tests.telephony.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER_ID,
    PUBLIC_URL,
    FakeTwilio,
)

CALLED = "+13055550123"  # contact_a's number
STAFF_PHONE = "+12125550187"
OTHER_STAFF_PHONE = "+12125550188"


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def twilio_program(
    settings: Any, fake_twilio: FakeTwilio, portfolio: Portfolio, monday: Any
) -> Portfolio:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    settings.TELEPHONY_PUBLIC_URL = PUBLIC_URL
    settings.TELEPHONY_RING_SECONDS = 20
    program = portfolio.program_a
    program.caller_id_number = CALLER_ID
    program.neutral_name = "Harbor Group"
    program.telephony_backend = "twilio"
    program.save(update_fields=["caller_id_number", "neutral_name", "telephony_backend"])
    return portfolio


def available(user: Any, answer_at: str = STAFF_PHONE) -> None:
    presence_set(user=user, state="available", answer_at=answer_at, now=timezone.now())


def url(name: str, attempt: CallAttempt) -> str:
    return f"{PUBLIC_URL}/telephony/twilio/{name}/{attempt.pk}/"


def dispatched(portfolio: Portfolio) -> CallAttempt:
    """staff A available, a callback due: dispatch paces it to staff A (the staff leg rings)."""
    available(portfolio.staff_a)
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk)
    assert result.status == "placed", result
    assert result.attempt_id is not None
    return CallAttempt.objects.get(pk=result.attempt_id)


def staff_answers(fake: FakeTwilio, client: Client, attempt: CallAttempt) -> Any:
    staff_sid = attempt.backend_ref.removeprefix("twilio:")
    params = fake.call_params(staff_sid, "in-progress", To=STAFF_PHONE, From=CALLER_ID)
    return fake.send(client, url("staff/answer", attempt), params)


def staff_leg_sid(attempt: CallAttempt) -> str:
    return attempt.backend_ref.removeprefix("twilio:").split("/")[0]


def contact_sid(attempt: CallAttempt) -> str:
    attempt.refresh_from_db()
    return attempt.backend_ref.split("/")[1]


def test_the_staff_leg_rings_first_and_the_contact_only_after_it_answers(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client, caplog: Any
) -> None:
    with caplog.at_level(logging.DEBUG):
        attempt = dispatched(twilio_program)
    # 1. Only the staff leg: to where staff A answers, from the program's number.
    [staff] = fake_twilio.created
    assert staff["To"] == [STAFF_PHONE] and staff["From"] == [CALLER_ID]
    assert staff["Url"] == [url("staff/answer", attempt)]
    assert staff["StatusCallback"] == [url("staff/status", attempt)]
    assert fake_twilio.participants == []
    assert attempt.placed_by_id == twilio_program.staff_a.pk and attempt.backend == "twilio"

    # 2. Staff A picks up: they enter the conference and the contact is dialled into it.
    answer = staff_answers(fake_twilio, client, attempt)
    twiml = answer.content.decode()
    assert answer.status_code == 200 and "<Conference" in twiml
    assert (
        f"attempt-{attempt.pk}</Conference>" in twiml and 'startConferenceOnEnter="false"' in twiml
    )
    [(conference, contact)] = fake_twilio.participants
    assert staff_answers(fake_twilio, client, attempt).status_code == 409  # dialled once
    assert len(fake_twilio.participants) == 1
    assert conference == f"attempt-{attempt.pk}"
    assert contact["To"] == [CALLED] and contact["From"] == [CALLER_ID]
    assert int(contact["Timeout"][0]) >= 15
    assert contact["MachineDetection"] == ["Enable"]
    assert contact["AmdStatusCallback"] == [url("amd", attempt)]
    assert contact["StatusCallback"] == [url("status", attempt)]
    assert contact["StartConferenceOnEnter"] == ["true"]
    staff_sid = staff_leg_sid(attempt)
    sid = contact_sid(attempt)
    assert attempt.backend_ref == f"twilio:{staff_sid}/{fake_twilio.participant_sids[0]}"

    # 3. The whisper: the queue and the purpose, never the contact's name.
    whisper = fake_twilio.send(
        client,
        url("staff/whisper", attempt),
        fake_twilio.call_params(staff_leg_sid(attempt), "in-progress"),
    ).content.decode()
    assert twilio_program.callback_a.name in whisper and "Callback" in whisper
    assert "Avery" not in whisper and "Alpha" not in whisper

    # 4. Staff in the conference, then the contact answers and joins: bridged, nothing redirected.
    name = f"attempt-{attempt.pk}"
    for who in (staff_sid, sid):
        params = fake_twilio.conference_params(name, "participant-join", who)
        assert fake_twilio.send(client, url("conference", attempt), params).status_code == 204
    assert fake_twilio.updated == []
    done = fake_twilio.call_params(sid, "completed", CallDuration="95", AnsweredBy="human")
    assert fake_twilio.send(client, url("status", attempt), done).status_code == 204
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.CONNECTED and not attempt.abandoned
    assert attempt.duration_seconds == 95
    assert "5550123" not in caplog.text and "Avery" not in caplog.text


def test_a_dnc_request_while_the_staff_leg_rang_stops_the_contact_leg(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    attempt = dispatched(twilio_program)
    dnc_request_record(
        number=CALLED,
        source="call",
        note="",
        actor=SYSTEM,
        program_id=attempt.task.queue.program_id,
    )
    answer = staff_answers(fake_twilio, client, attempt)
    twiml = answer.content.decode()
    assert "stopped before dialling" in twiml and "<Hangup" in twiml
    assert "<Conference" not in twiml
    assert fake_twilio.participants == []  # the contact was never dialled
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    assert CallTask.objects.get(pk=attempt.task_id).status == TaskStatus.CANCELLED


def test_a_machine_hangs_up_and_logs_voicemail(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    attempt = dispatched(twilio_program)
    staff_answers(fake_twilio, client, attempt)
    sid = contact_sid(attempt)
    staff_sid = staff_leg_sid(attempt)
    amd = fake_twilio.amd_params(sid, "machine_start")
    assert fake_twilio.send(client, url("amd", attempt), amd).status_code == 204
    assert fake_twilio.send(client, url("amd", attempt), amd).status_code == 409  # replayed
    updates = dict(fake_twilio.updated)
    assert updates[sid] == {"Status": ["completed"]}  # no message: hung up
    assert "Voicemail" in updates[staff_sid]["Twiml"][0]
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.VOICEMAIL and not attempt.answered
    task = CallTask.objects.get(pk=attempt.task_id)
    assert task.status == TaskStatus.PENDING  # retried per the queue's policy


def test_a_callback_queue_may_leave_its_own_message_on_a_machine(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    queue = twilio_program.callback_a
    queue.voicemail_message_url = "https://media.example.org/callback-message.mp3"
    queue.save(update_fields=["voicemail_message_url"])
    attempt = dispatched(twilio_program)
    staff_answers(fake_twilio, client, attempt)
    [(_, contact)] = fake_twilio.participants
    assert contact["MachineDetection"] == ["DetectMessageEnd"]
    sid = contact_sid(attempt)
    fake_twilio.send(client, url("amd", attempt), fake_twilio.amd_params(sid, "machine_end_beep"))
    twiml = dict(fake_twilio.updated)[sid]["Twiml"][0]
    assert "<Play>https://media.example.org/callback-message.mp3</Play>" in twiml
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.VOICEMAIL


def test_a_reactivation_queue_cannot_leave_a_recorded_message(portfolio: Portfolio) -> None:
    from django.db import IntegrityError, transaction

    queue = portfolio.reactivation_a
    queue.voicemail_message_url = "https://media.example.org/offer.mp3"
    with pytest.raises(IntegrityError), transaction.atomic():
        queue.save(update_fields=["voicemail_message_url"])


def test_a_dropped_staff_leg_gives_the_two_second_message_and_an_abandoned_attempt(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    attempt = dispatched(twilio_program)
    staff_answers(fake_twilio, client, attempt)
    sid = contact_sid(attempt)
    staff_sid = staff_leg_sid(attempt)
    name = f"attempt-{attempt.pk}"
    conference = url("conference", attempt)
    fake_twilio.send(
        client, conference, fake_twilio.conference_params(name, "participant-join", staff_sid)
    )
    # The staff leg drops while the contact rings: the ringing contact leg is ended ...
    fake_twilio.send(
        client, conference, fake_twilio.conference_params(name, "participant-leave", staff_sid)
    )
    assert (sid, {"Status": ["completed"]}) in fake_twilio.updated
    # ... but the contact answered at that very moment and joins nobody: sent to the message.
    joined = fake_twilio.conference_params(name, "participant-join", sid)
    assert fake_twilio.send(client, conference, joined).status_code == 204
    assert fake_twilio.send(client, conference, joined).status_code == 409  # replayed
    [message_url] = [f["Url"][0] for s, f in fake_twilio.updated if s == sid and "Url" in f]
    assert message_url == url("wait", attempt) + "?late=1"
    message = fake_twilio.send(client, message_url, fake_twilio.call_params(sid, "in-progress"))
    text = message.content.decode()
    assert "Program A" in text and "press 9" in text and "<Gather" in text
    assert "3 0 5 5 5 5 0 1 0 0" in text  # a number to call
    done = fake_twilio.call_params(sid, "completed", CallDuration="8")
    fake_twilio.send(client, url("status", attempt), done)
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.ABANDONED and attempt.abandoned and attempt.answered


def test_a_staff_leg_nobody_answers_puts_the_call_back_and_the_staff_member_away(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    attempt = dispatched(twilio_program)
    staff_sid = attempt.backend_ref.removeprefix("twilio:")
    params = fake_twilio.call_params(staff_sid, "no-answer")
    assert fake_twilio.send(client, url("staff/status", attempt), params).status_code == 204
    assert fake_twilio.send(client, url("staff/status", attempt), params).status_code == 409
    assert fake_twilio.participants == []
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 0)
    presence = StaffPresence.objects.get(user=twilio_program.staff_a)
    assert presence.state == PresenceState.AWAY


def test_unsigned_staff_and_conference_callbacks_are_refused(
    twilio_program: Portfolio, fake_twilio: FakeTwilio, client: Client
) -> None:
    attempt = dispatched(twilio_program)
    staff_sid = attempt.backend_ref.removeprefix("twilio:")
    from urllib.parse import urlencode

    forged = client.post(
        f"/telephony/twilio/staff/answer/{attempt.pk}/",
        urlencode(fake_twilio.call_params(staff_sid, "in-progress")),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl",
    )
    assert forged.status_code == 403
    assert fake_twilio.participants == []


def _second_contact(portfolio: Portfolio) -> Contact:
    return contact_create(
        program=portfolio.program_a,
        external_id="A-2",
        first_name="Casey",
        last_name="Gamma",
        state="FL",
        postal_code="33101",
        phones=[PhoneInput("(305) 555-0177", provided_by_patient=True)],
        actor=SYSTEM,
    )


def test_one_call_in_flight_per_available_staff_member(
    twilio_program: Portfolio, fake_twilio: FakeTwilio
) -> None:
    available(twilio_program.staff_a)
    first = planned_task(twilio_program.callback_a, twilio_program.contact_a)
    second = new_task(twilio_program.callback_a, _second_contact(twilio_program))
    results = dispatch_tasks(task_ids=[first.pk, second.pk])
    assert sorted(r.status for r in results) == ["placed", "waiting"]
    assert len(fake_twilio.created) == 1
    waiting = next(r.task_id for r in results if r.status == "waiting")
    assert CallTask.objects.get(pk=waiting).status == TaskStatus.PENDING  # the queue of record
    # Nobody else free: pacing again places nothing more.
    assert pace(program_ids=[twilio_program.program_a.pk]) == []
    # A second staff member becomes available: exactly one more call, to them.
    other = make_user("staff-a2", "admissions_staff", twilio_program.program_a)
    available(other, OTHER_STAFF_PHONE)
    [paced] = pace(program_ids=[twilio_program.program_a.pk])
    assert (paced.task_id, paced.user_id, paced.status) == (waiting, other.pk, "placed")
    assert [f["To"] for f in fake_twilio.created] == [[STAFF_PHONE], [OTHER_STAFF_PHONE]]


def test_callbacks_go_first_then_the_oldest_due(twilio_program: Portfolio) -> None:
    reactivation = new_task(open_queue(twilio_program.reactivation_a), twilio_program.contact_a)
    CallTask.objects.filter(pk=reactivation.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=5)
    )
    newer = new_task(open_queue(twilio_program.callback_a), twilio_program.contact_a)
    older = new_task(twilio_program.callback_a, _second_contact(twilio_program))
    CallTask.objects.filter(pk=older.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    order = list(
        waiting_tasks(program_ids=[twilio_program.program_a.pk], now=timezone.now()).values_list(
            "pk", "queue__purpose"
        )
    )
    assert order == [
        (older.pk, Purpose.CALLBACK),
        (newer.pk, Purpose.CALLBACK),
        (reactivation.pk, Purpose.REACTIVATION),
    ]


def test_no_call_goes_out_without_a_free_staff_member_of_its_program(
    twilio_program: Portfolio, fake_twilio: FakeTwilio
) -> None:
    available(twilio_program.staff_b)  # available, but for program B only
    task = planned_task(twilio_program.callback_a, twilio_program.contact_a)
    assert dispatch_task(task_id=task.pk).status == "waiting"
    available(twilio_program.staff_a)
    presence_set(user=twilio_program.staff_a, state="wrap_up", now=timezone.now())
    assert pace(program_ids=[twilio_program.program_a.pk]) == []
    assert fake_twilio.created == [] and CallAttempt.objects.count() == 0
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
