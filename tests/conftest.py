"""Shared fixtures: two programs and three personas (staff of A, manager of A, staff of B).

Signing in: every admin page asks for a session verified by a second factor.
`Client.force_login` is made to verify one too (the user's test authenticator),
so that tests about something else than signing in log in as before; the
sign-in itself is tested through its real pages (tests/foundation/test_sign_in.py),
and browsers sign in with `browser_sign_in`.

With `CLOCK_SHIFT_DAYS=N` in the environment the whole session runs N days from
today (the clock ticks on from there): tests/seams/test_any_date.py runs the
date-sensitive modules a year ahead so that no test can lean on today's date.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import actor_system
from campaigns.models import Contact, Program, Purpose, Queue
from campaigns.roles import ADMISSIONS_STAFF, CAMPAIGN_MANAGER, roles_sync
from campaigns.services import PhoneInput, contact_create, program_create, queue_create

SYSTEM = actor_system("tests")

CLOCK_SHIFT_DAYS = "CLOCK_SHIFT_DAYS"


def pytest_configure(config: pytest.Config) -> None:
    # Started before Django's test database exists, so every row the session
    # writes is stamped with the shifted clock.
    raw = os.environ.get(CLOCK_SHIFT_DAYS, "").strip()
    if not raw:
        return
    try:
        days = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{CLOCK_SHIFT_DAYS} must be a whole number of days") from None
    traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


@dataclass
class Portfolio:
    program_a: Program
    program_b: Program
    callback_a: Queue
    reactivation_a: Queue
    callback_b: Queue
    contact_a: Contact
    contact_b: Contact
    staff_a: User
    manager_a: User
    staff_b: User


def make_user(username: str, role: str, *programs: Program) -> User:
    user = User.objects.create_user(username=username, password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for program in programs:
        program.members.add(user)
    return user


def make_queue(program: Program, purpose: str, **kwargs: Any) -> Queue:
    return queue_create(
        program=program,
        slug=kwargs.pop("slug", purpose),
        name=kwargs.pop("name", purpose.title()),
        purpose=purpose,
        script=kwargs.pop("script", "Hello, returning your call."),
        actor=SYSTEM,
        **kwargs,
    )


def authenticator(user: User) -> TOTPDevice:
    """The user's confirmed TOTP device, created on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    return device


def totp_code(device: TOTPDevice) -> str:
    """The code the authenticator app shows now (django-otp's own computation)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture(autouse=True)
def _force_login_verifies_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = authenticator(user).persistent_id
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


def browser_sign_in(
    page: Any, base_url: str, *, username: str, password: str, device: TOTPDevice, next_path: str
) -> None:
    """Sign in through the real pages in a Playwright page: the password, then the TOTP code.

    `device` is fetched beforehand (`authenticator(user)`): no query runs under Playwright's loop.
    """
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/login/code/**")
    page.fill("#id_otp_token", totp_code(device))
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


@pytest.fixture
def portfolio(db: Any) -> Portfolio:
    roles_sync()
    a = program_create(slug="prog-a", legal_name="Program A", state="FL", actor=SYSTEM)
    b = program_create(slug="prog-b", legal_name="Program B", state="AZ", actor=SYSTEM)
    contact_a = contact_create(
        program=a,
        external_id="A-1",
        first_name="Avery",
        last_name="Alpha",
        state="FL",
        postal_code="33101",
        phones=[PhoneInput("(305) 555-0123", provided_by_patient=True)],
        actor=SYSTEM,
    )
    contact_b = contact_create(
        program=b,
        external_id="B-1",
        first_name="Blair",
        last_name="Beta",
        state="AZ",
        phones=[PhoneInput("602-555-0142")],
        actor=SYSTEM,
    )
    return Portfolio(
        program_a=a,
        program_b=b,
        callback_a=make_queue(a, Purpose.CALLBACK),
        reactivation_a=make_queue(a, Purpose.REACTIVATION),
        callback_b=make_queue(b, Purpose.CALLBACK),
        contact_a=contact_a,
        contact_b=contact_b,
        staff_a=make_user("staff-a", ADMISSIONS_STAFF, a),
        manager_a=make_user("manager-a", CAMPAIGN_MANAGER, a),
        staff_b=make_user("staff-b", ADMISSIONS_STAFF, b),
    )
