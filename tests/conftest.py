"""Shared fixtures: two programs and three personas (staff of A, manager of A, staff of B)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from audit.actors import actor_system
from campaigns.models import Contact, Program, Purpose, Queue
from campaigns.roles import ADMISSIONS_STAFF, CAMPAIGN_MANAGER, roles_sync
from campaigns.services import PhoneInput, contact_create, program_create, queue_create

SYSTEM = actor_system("tests")


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
