"""Staff sign-in: two factors, lockout, idle logoff, and every sign-in event in the audit trail.

Everything goes through the real pages with the test client (no force_login),
against the real database; codes are computed with django-otp's own functions.
"""

from __future__ import annotations

import json
import re
from base64 import b32decode
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from campaigns.roles import COMPLIANCE_OFFICER
from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from dialer.runtime.preview import preview_take_next
from tests.conftest import Portfolio, authenticator, make_user, totp_code
from tests.runtime.helpers import MONDAY_MORNING, planned_task

LOGIN = "/admin/login/"
CODE = "/admin/login/code/"
ENROL = "/admin/login/enrol/"
PASSWORD = "pw-123456"
WRONG = "Not-The-Password-42"
ADMIN_PAGES = ["/admin/", "/admin/campaigns/contact/", "/admin/dialer/mycall/"]


@pytest.fixture
def monday() -> Iterator[time_machine.Traveller]:
    """A known instant, the clock standing still (a TOTP code lasts 30 seconds)."""
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


def _password(client: Client, username: str, password: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def _sign_in(client: Client, user: User) -> None:
    device = authenticator(user)
    response = _password(client, user.username, PASSWORD)
    assert response.status_code == 302 and response["Location"].startswith(CODE)
    response = client.post(CODE, {"otp_token": totp_code(device), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/", response


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _not_in_trail(secret: str) -> None:
    for event in AuditEvent.objects.all():
        assert secret not in json.dumps([event.actor, event.reason, event.data, event.object_id])


@pytest.mark.django_db
def test_ten_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    authenticator(user)
    client = Client()
    for _ in range(9):
        response = _password(client, user.username, WRONG)
        assert response.status_code == 200  # the form again, with its error
    locking = _password(client, user.username, WRONG)
    assert locking.status_code == 429
    assert "locked" in locking.content.decode()

    refused = _password(Client(REMOTE_ADDR="10.9.8.7"), user.username, PASSWORD)
    assert refused.status_code == 200
    assert "locked after too many failed sign-ins" in refused.content.decode()
    assert not refused.has_header("Location")  # no way on to the code step

    failed = _events("signin.failed")
    assert len(failed) == 11
    assert {e.actor for e in failed} == {f"user:{user.pk}"}
    assert {e.data["username"] for e in failed} == {user.username}
    assert [e.reason for e in failed] == ["wrong_credentials"] * 10 + ["locked_out"]
    [lockout] = _events("signin.locked_out")
    assert lockout.actor == f"user:{user.pk}" and lockout.data["address"] == "127.0.0.1"
    _not_in_trail(WRONG)
    _not_in_trail(PASSWORD)

    # The operator unlocks (audited), and the right password goes on to the code.
    call_command("signin_unlock", user.username, reason="verified by phone")
    [unlocked] = _events("signin.unlocked")
    assert unlocked.object_id == str(user.pk) and unlocked.reason == "verified by phone"
    _sign_in(Client(REMOTE_ADDR="10.9.8.7"), user)


@pytest.mark.django_db
def test_ten_failures_from_one_address_lock_that_address_for_every_user(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.5")
    for i in range(10):
        _password(attacker, f"guess-{i}", WRONG)
    refused = _password(attacker, portfolio.staff_a.username, PASSWORD)
    assert "locked after too many failed sign-ins" in refused.content.decode()
    # A name that is no account's is not written down (it may be a mistyped password).
    unknown = _events("signin.failed")[0]
    assert unknown.actor == "system:signin" and "username" not in unknown.data
    _not_in_trail("guess-0")
    # Another address is not affected.
    _sign_in(Client(REMOTE_ADDR="198.51.100.7"), portfolio.staff_a)
    call_command("signin_unlock", address="203.0.113.5", reason="office proxy")
    _sign_in(attacker, portfolio.staff_b)


@pytest.mark.django_db
def test_a_correct_password_without_the_second_factor_reaches_no_admin_page(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    device = authenticator(user)
    client = Client()
    response = _password(client, user.username, PASSWORD)
    assert response.status_code == 302 and response["Location"].startswith(CODE)
    for url in ADMIN_PAGES:
        page = client.get(url)
        assert page.status_code == 302 and page["Location"].startswith(LOGIN), url
    assert "_auth_user_id" not in client.session  # nobody is signed in yet

    wrong = client.post(CODE, {"otp_token": "000000" if totp_code(device) != "000000" else "1"})
    assert "That code is not valid" in wrong.content.decode()
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 302, url
    [failed] = _events("signin.failed")
    assert failed.data["stage"] == "second_factor" and failed.actor == f"user:{user.pk}"

    # A session signed in by password alone (as a reset factor leaves one) is not let in either.
    half = Client()
    session = half.session
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.save()
    for url in ADMIN_PAGES:
        assert half.get(url).status_code == 302, url

    monday.shift(timedelta(seconds=30))  # django-otp slows down the next try after a wrong one
    client.post(CODE, {"otp_token": totp_code(device), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200
    [succeeded] = _events("signin.succeeded")
    assert succeeded.actor == f"user:{user.pk}" and succeeded.data["factor"] == "totp"


@pytest.mark.django_db
def test_ten_wrong_codes_lock_the_account_too(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    right = totp_code(authenticator(user))
    client = Client()
    _password(client, user.username, PASSWORD)
    for i in range(10):
        client.post(CODE, {"otp_token": f"{(int(right) + 1 + i) % 1_000_000:06d}"})
    assert len(_events("signin.locked_out")) == 1
    client.post(CODE, {"otp_token": right})
    assert client.get("/admin/").status_code == 302
    assert _password(Client(), user.username, PASSWORD).status_code == 200  # refused


@pytest.mark.django_db
def test_a_first_sign_in_enrols_an_authenticator_and_gives_recovery_codes(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    assert not TOTPDevice.objects.filter(user=user).exists()
    client = Client()
    response = _password(client, user.username, PASSWORD)
    assert response["Location"].startswith(ENROL)
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "<svg" in html and 'id="enrol-secret"' in html
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.get("/admin/").status_code == 302  # not before the first code

    codes_page = client.post(ENROL, {"otp_token": totp_code(device), "next": "/admin/"})
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == 10
    for code in codes:
        assert code in codes_page.content.decode()
    assert client.get("/admin/").status_code == 200
    [enrolled] = _events("signin.factor_enrolled")
    assert enrolled.actor == f"user:{user.pk}"
    for code in codes:
        _not_in_trail(code)

    # A recovery code signs in once.
    client.post("/admin/logout/")
    again = Client()
    _password(again, user.username, PASSWORD)
    again.post(CODE, {"otp_token": codes[0], "next": "/admin/"})
    assert again.get("/admin/").status_code == 200
    assert _events("signin.succeeded")[-1].data == {
        "address": "127.0.0.1",
        "factor": "recovery_code",
        "recovery_codes_left": 9,
    }
    twice = Client()
    _password(twice, user.username, PASSWORD)
    twice.post(CODE, {"otp_token": codes[0]})
    assert twice.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_an_operator_resets_a_users_factors_and_the_user_enrols_again(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    client = Client()
    _sign_in(client, user)
    assert client.get("/admin/").status_code == 200
    call_command("signin_reset_factors", user.username, reason="lost phone")
    [reset] = _events("signin.factors_reset")
    assert (reset.object_id, reset.reason, reset.data) == (
        str(user.pk),
        "lost phone",
        {"devices_removed": 1},
    )
    assert client.get("/admin/").status_code == 302  # the session's device is gone
    monday.shift(timedelta(seconds=30))
    assert _password(Client(), user.username, PASSWORD)["Location"].startswith(ENROL)


@pytest.mark.django_db
def test_a_session_idle_past_the_limit_is_signed_out_and_its_call_goes_back(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    placed = dispatch_task(task_id=task.pk)
    client = Client()
    _sign_in(client, user)
    taken = preview_take_next(user=user)
    assert taken is not None and taken.pk == placed.attempt_id

    monday.shift(timedelta(minutes=14))  # under the limit: still signed in, and it slides
    assert client.get("/admin/dialer/mycall/").status_code == 200
    monday.shift(timedelta(minutes=14))
    assert client.get("/admin/dialer/mycall/").status_code == 200

    monday.shift(timedelta(minutes=15, seconds=1))
    response = client.get("/admin/dialer/mycall/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session
    [idle] = _events("signin.idle_logoff")
    assert idle.actor == f"user:{user.pk}" and idle.data["calls_released"] == [taken.pk]
    assert idle.data["idle_seconds"] == 15 * 60 + 1

    # Not dropped silently: the attempt is withdrawn and the task is due again at once.
    attempt = CallAttempt.objects.get(pk=taken.pk)
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=task.pk)
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 0)
    released = AuditEvent.objects.get(action="call.released", object_id=str(taken.pk))
    assert released.reason == "idle_logoff"


@pytest.mark.django_db
@override_settings(SIGNIN_IDLE_MINUTES=2)
def test_the_idle_limit_is_a_setting_and_my_calls_carries_its_warning(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    client = Client()
    _sign_in(client, portfolio.staff_a)
    page = client.get("/admin/dialer/mycall/").content.decode()
    assert 'src="/static/access/idle.js"' in page and 'data-idle-seconds="120"' in page
    monday.shift(timedelta(minutes=2, seconds=1))
    assert client.get("/admin/").status_code == 302
    assert len(_events("signin.idle_logoff")) == 1


@pytest.mark.django_db
def test_the_session_ends_with_the_browser_and_sign_out_is_recorded(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    client = Client()
    _sign_in(client, portfolio.staff_a)
    cookie = client.cookies["sessionid"]
    assert (cookie["expires"], cookie["max-age"]) == ("", "")  # a browser-session cookie
    client.post("/admin/logout/")
    assert client.get("/admin/").status_code == 302
    [out] = _events("signin.signed_out")
    assert out.actor == f"user:{portfolio.staff_a.pk}"


@pytest.mark.django_db
def test_the_compliance_officer_lists_the_sign_in_events_of_one_user(
    portfolio: Portfolio, monday: time_machine.Traveller
) -> None:
    user = portfolio.staff_a
    _password(Client(), user.username, WRONG)
    _sign_in(Client(), user)
    officer = make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a)
    viewer = Client()
    viewer.force_login(officer)
    page = viewer.get(f"/admin/audit/auditevent/?signin=all&user={user.pk}")
    assert page.status_code == 200
    shown = {event.action for event in page.context["cl"].result_list}
    assert shown == {"signin.failed", "signin.succeeded"}
    assert user.username in page.content.decode()  # the user filter names the staff member


def test_staff_passwords_are_long_and_not_on_the_breached_list() -> None:
    user = User(username="new-staff")
    for weak in ["short-1A", "password1234", "123456789012"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user)
    validate_password("correct horse battery staple", user)


@pytest.mark.django_db
def test_the_demo_users_sign_in_with_the_printed_secret(monday: time_machine.Traveller) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    secret = re.search(r"TOTP secret ([A-Z2-7]+)", out.getvalue())
    assert secret is not None
    client = Client()
    _password(client, "admin", "demo-password")
    code = f"{totp(b32decode(secret[1])):06d}"
    assert client.post(CODE, {"otp_token": code, "next": "/admin/"})["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
