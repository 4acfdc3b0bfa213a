"""Twilio: the call as Twilio receives it, and signed status callbacks applied once."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from audit.models import AuditEvent
from campaigns.models import Purpose
from dialer.backends import ProgramBackend, caller_identity
from dialer.backends.twilio import TwilioBackend
from dialer.models import CallAttempt, Outcome, TaskStatus
from tests.conftest import Portfolio
from tests.telephony.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER_ID,
    PUBLIC_URL,
    FakeTwilio,
    attempt_create,
)

CALLED = "+13055550123"  # contact_a's number


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> Any:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    settings.TELEPHONY_PUBLIC_URL = PUBLIC_URL
    settings.TELEPHONY_RING_SECONDS = 25
    return settings


@pytest.fixture
def placed(portfolio: Portfolio, twilio_settings: Any) -> CallAttempt:
    attempt = attempt_create(portfolio, portfolio.callback_a, "twilio")
    attempt.backend_ref = TwilioBackend().place(attempt)
    attempt.save(update_fields=["backend_ref"])
    return attempt


def post_signed(
    client: Client, path: str, params: dict[str, str], token: str = AUTH_TOKEN, sign: bool = True
) -> Any:
    headers = {}
    if sign:
        signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(
        path, urlencode(params), content_type="application/x-www-form-urlencoded", **headers
    )


def callback(attempt: CallAttempt, status: str, seq: int, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": attempt.backend_ref.removeprefix("twilio:"),
        "CallStatus": status,
        "SequenceNumber": str(seq),
        "From": CALLER_ID,
        "To": CALLED,
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status_path(attempt: CallAttempt) -> str:
    return f"/telephony/twilio/status/{attempt.pk}/"


def test_it_creates_the_call_with_to_from_and_status_callback(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio, caplog: Any
) -> None:
    attempt = attempt_create(portfolio, portfolio.callback_a, "twilio")
    with caplog.at_level(logging.DEBUG):
        reference = TwilioBackend().place(attempt)
    [form] = fake_twilio.created
    assert reference.startswith("twilio:CA") and len(reference) == len("twilio:") + 34
    assert form["To"] == [CALLED]
    assert form["From"] == [CALLER_ID]
    assert form["StatusCallback"] == [f"{PUBLIC_URL}/telephony/twilio/status/{attempt.pk}/"]
    assert form["StatusCallbackMethod"] == ["POST"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["Url"] == [f"{PUBLIC_URL}/telephony/twilio/answer/{attempt.pk}/"]
    assert int(form["Timeout"][0]) >= 15
    assert fake_twilio.refused == []
    assert "5550123" not in caplog.text


def test_it_refuses_without_credentials(portfolio: Portfolio, settings: Any) -> None:
    from dialer.backends import BackendError

    settings.TWILIO_AUTH_TOKEN = ""
    attempt = attempt_create(portfolio, portfolio.callback_a, "twilio")
    with pytest.raises(BackendError) as info:
        TwilioBackend().place(attempt)
    assert "555" not in str(info.value)


def test_it_refuses_unsigned_and_forged_callbacks(placed: CallAttempt, client: Client) -> None:
    params = callback(placed, "completed", 3, CallDuration="42")
    assert post_signed(client, status_path(placed), params, sign=False).status_code == 403
    forged = post_signed(client, status_path(placed), params, token="e1" * 16)
    assert forged.status_code == 403
    # Signed, but for another URL than the one it was sent to.
    other = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/elsewhere/", params)
    moved = client.post(
        status_path(placed),
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=other,
    )
    assert moved.status_code == 403
    # Signed by our token but tampered with after signing.
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_URL + status_path(placed), params
    )
    tampered = client.post(
        status_path(placed),
        urlencode({**params, "CallStatus": "busy"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert tampered.status_code == 403
    placed.refresh_from_db()
    assert placed.outcome == ""


def test_it_refuses_a_signed_callback_about_another_call(
    placed: CallAttempt, client: Client
) -> None:
    params = {**callback(placed, "busy", 2), "CallSid": "CA" + "0" * 32}
    assert post_signed(client, status_path(placed), params).status_code == 404
    placed.refresh_from_db()
    assert placed.outcome == ""


def test_duplicate_and_out_of_order_callbacks_give_one_outcome(
    placed: CallAttempt, client: Client
) -> None:
    path = status_path(placed)
    # The end state outruns the progress reports.
    assert (
        post_signed(client, path, callback(placed, "completed", 3, CallDuration="42")).status_code
        == 204
    )
    assert (
        post_signed(client, path, callback(placed, "completed", 3, CallDuration="42")).status_code
        == 409
    )
    for status, seq in (("ringing", 1), ("in-progress", 2), ("initiated", 0)):
        assert post_signed(client, path, callback(placed, status, seq)).status_code == 204
    # A later, different end state (never sent by Twilio, but a bug or an attack) changes nothing.
    assert post_signed(client, path, callback(placed, "no-answer", 4)).status_code == 204
    placed.refresh_from_db()
    assert placed.outcome == Outcome.CONNECTED
    assert placed.answered and not placed.abandoned
    assert placed.duration_seconds == 42
    assert placed.task.status == TaskStatus.DONE
    events = AuditEvent.objects.filter(
        action="call.outcome", object_type="call_attempt", object_id=placed.pk
    )
    assert events.count() == 1


@pytest.mark.parametrize(
    ("status", "extra", "outcome"),
    [
        ("no-answer", {}, Outcome.NO_ANSWER),
        ("busy", {}, Outcome.BUSY),
        ("failed", {}, Outcome.FAILED),
        ("completed", {"AnsweredBy": "machine_end_beep"}, Outcome.VOICEMAIL),
    ],
)
def test_it_maps_end_states(
    placed: CallAttempt, client: Client, status: str, extra: dict[str, str], outcome: str
) -> None:
    assert (
        post_signed(client, status_path(placed), callback(placed, status, 2, **extra)).status_code
        == 204
    )
    placed.refresh_from_db()
    assert placed.outcome == outcome
    assert placed.task.status == TaskStatus.PENDING  # retried per the queue's policy


def test_nobody_within_two_seconds_plays_the_message_and_counts_abandoned(
    portfolio: Portfolio, twilio_settings: Any, client: Client
) -> None:
    attempt = attempt_create(portfolio, portfolio.reactivation_a, "twilio")
    attempt.backend_ref = TwilioBackend().place(attempt)
    attempt.save(update_fields=["backend_ref"])
    answer = post_signed(
        client, f"/telephony/twilio/answer/{attempt.pk}/", callback(attempt, "in-progress", 2)
    )
    assert b"<Enqueue" in answer.content and b"waitUrl" in answer.content
    wait = f"/telephony/twilio/wait/{attempt.pk}/"
    first = post_signed(client, wait, callback(attempt, "in-progress", 2))
    assert b'<Pause length="1"' in first.content and b"late=1" in first.content
    attempt.refresh_from_db()
    assert not attempt.abandoned  # staff may still take it
    late = post_signed(client, wait + "?late=1", callback(attempt, "in-progress", 2))
    text = late.content.decode()
    assert "Harbor Group" in text and "Program A" not in text
    assert "telemarketing" in text and "press 9" in text and "<Gather" in text
    post_signed(client, status_path(attempt), callback(attempt, "completed", 3, CallDuration="9"))
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.ABANDONED and attempt.abandoned and attempt.answered


def test_hangup_ends_the_call(placed: CallAttempt, fake_twilio: FakeTwilio) -> None:
    TwilioBackend().hangup(placed.backend_ref)
    [(sid, form)] = fake_twilio.updated
    assert f"twilio:{sid}" == placed.backend_ref and form["Status"] == ["completed"]


def test_a_program_choosing_twilio_is_placed_with_twilio(
    portfolio: Portfolio, twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TELEPHONY_BACKEND = "preview"
    attempt = attempt_create(portfolio, portfolio.callback_a, "preview")
    portfolio.program_a.telephony_backend = "twilio"
    portfolio.program_a.save(update_fields=["telephony_backend"])
    assert ProgramBackend().place(attempt).startswith("twilio:CA")
    attempt.refresh_from_db()
    assert attempt.backend == "twilio" and len(fake_twilio.created) == 1
    other = attempt_create(portfolio, portfolio.callback_b, "preview")
    assert ProgramBackend().place(other) == f"preview:{other.pk}"


def test_reactivation_calls_show_the_neutral_name(portfolio: Portfolio) -> None:
    attempt = attempt_create(portfolio, portfolio.reactivation_a, "twilio")
    program = attempt.task.queue.program
    identity = caller_identity(program, Purpose.REACTIVATION)
    assert identity.name == "Harbor Group" and identity.number == CALLER_ID
    assert caller_identity(program, Purpose.REMINDER).name == "Harbor Group"
    assert caller_identity(program, Purpose.CALLBACK).name == "Program A"
