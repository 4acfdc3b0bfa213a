"""`seed_demo`: an idempotent demo portfolio (two programs, three queues each, every role).

Its reminders and reactivation work are made by the services the API uses
(`appointment_record`, `enrollment_create`), so the demo's tasks are decided
by the same rules as everyone's. It lives in the dialer because of that.
"""

from __future__ import annotations

import os
from base64 import b32decode
from datetime import time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import actor_system
from campaigns.models import Contact, Program, Purpose
from campaigns.roles import (
    ADMISSIONS_STAFF,
    CAMPAIGN_MANAGER,
    COMPLIANCE_OFFICER,
    MARKETING_ANALYST,
    roles_sync,
)
from campaigns.services import PhoneInput, contact_create, program_create, queue_create
from consent.models import Consent
from consent.services import ConsentInput, consent_create
from dialer.acts.appointments import appointment_record
from dialer.acts.enrollments import enrollment_create

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password")
# The demo users' second factor, the same for all and printed: for the demo only.
# Real staff enrol their own authenticator at their first sign-in.
DEMO_TOTP_SECRET = "MNQWY3DPOJRWQLLEMVWW6LLUN52HAIJB"  # noqa: S105 (base32, demo only)

PROGRAMS = [
    {
        "slug": "harbor-recovery",
        "legal_name": "Harbor Recovery Center",
        "state": "FL",
        "timezone": "America/New_York",
        "neutral_name": "Harbor Health",
        "caller_id_number": "+13055550100",
    },
    {
        "slug": "mesa-springs",
        "legal_name": "Mesa Springs Treatment",
        "state": "AZ",
        "timezone": "America/Phoenix",
        "neutral_name": "Mesa Wellness",
        "caller_id_number": "+16025550100",
    },
]

QUEUES = [
    ("callbacks", "Missed-call callbacks", Purpose.CALLBACK, time(8, 0), time(21, 0)),
    ("reminders", "Appointment reminders", Purpose.REMINDER, time(9, 0), time(19, 0)),
    ("alumni", "Alumni reactivation", Purpose.REACTIVATION, time(10, 0), time(19, 0)),
]

SCRIPT = (
    "Hello, this is {name} returning your call. Is now a good time to talk? "
    "If you would rather not be called again, tell me and we will stop."
)

CONTACTS = {
    "harbor-recovery": [
        ("HR-1001", "Alex", "Rivera", "FL", "33101", "none", "+13055550123"),
        ("HR-1002", "Sam", "Lee", "FL", "33139", "current", "+13055550124"),
        ("HR-1003", "Jordan", "Diaz", "NY", "10001", "former", "+12125550199"),
    ],
    "mesa-springs": [
        ("MS-2001", "Casey", "Nguyen", "AZ", "85004", "none", "+16025550142"),
        ("MS-2002", "Riley", "Patel", "AZ", "85281", "former", "+16025550143"),
    ],
}

# username -> (role, program slugs)
USERS = {
    "staff.harbor": (ADMISSIONS_STAFF, ["harbor-recovery"]),
    "manager.harbor": (CAMPAIGN_MANAGER, ["harbor-recovery"]),
    "compliance": (COMPLIANCE_OFFICER, ["harbor-recovery", "mesa-springs"]),
    "marketing": (MARKETING_ANALYST, ["harbor-recovery", "mesa-springs"]),
    "staff.mesa": (ADMISSIONS_STAFF, ["mesa-springs"]),
}


class Command(BaseCommand):
    help = "Create (or complete) the demo portfolio; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_system("seed_demo")
        roles_sync()
        with transaction.atomic():
            programs = {spec["slug"]: self._program(spec, actor) for spec in PROGRAMS}
            for slug, rows in CONTACTS.items():
                program = programs[slug]
                for ext, first, last, state, zip_code, status, number in rows:
                    if not Contact.objects.filter(program=program, external_id=ext).exists():
                        contact_create(
                            program=program,
                            external_id=ext,
                            first_name=first,
                            last_name=last,
                            state=state,
                            postal_code=zip_code,
                            patient_status=status,
                            phones=[PhoneInput(number, provided_by_patient=True)],
                            actor=actor,
                        )
            for program in programs.values():
                self._work(program, actor)
            self._users(programs)
        url = os.environ.get("DEMO_URL", "http://127.0.0.1:8000/admin/")
        self.stdout.write(f"Demo ready at {url}")
        self.stdout.write(f"Login: admin / {DEMO_PASSWORD} (operator, sees every program)")
        self.stdout.write(f"Staff logins (same password): {', '.join(USERS)}")
        self.stdout.write(
            f"Second factor of every demo login: TOTP secret {DEMO_TOTP_SECRET} "
            "(add it to an authenticator app)"
        )

    def _program(self, spec: dict[str, str], actor: str) -> Program:
        program = Program.objects.filter(slug=spec["slug"]).first()
        if program is None:
            program = program_create(actor=actor, **spec)
        for slug, name, purpose, start, end in QUEUES:
            if not program.queues.filter(slug=slug).exists():
                queue_create(
                    program=program,
                    slug=slug,
                    name=name,
                    purpose=purpose,
                    window_start=start,
                    window_end=end,
                    script=SCRIPT.format(name=program.neutral_name),
                    actor=actor,
                )
        return program

    def _work(self, program: Program, actor: str) -> None:
        """A reminder for each current patient, and each former one enrolled for reactivation.

        Patients get the Part 2 consent their calls need and alumni the written
        consent (once); each run moves the demo appointments to three days
        ahead, and enrolling again answers the task already queued.
        """
        now = timezone.now()
        patients = program.contacts.exclude(patient_status="none").order_by("id")
        for contact in patients:
            self._consents(program, contact, actor, signed=now - timedelta(days=10))
        reminders = program.queues.get(purpose=Purpose.REMINDER)
        for contact in patients.filter(patient_status="current"):
            appointment_record(
                program=program,
                actor=actor,
                origin="admin",
                external_id=f"DEMO-{contact.external_id}",
                contact=contact,
                starts_at=(now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0),
                queue=reminders,
            )
        enrollment_create(
            program=program,
            queue=program.queues.get(purpose=Purpose.REACTIVATION),
            contact_ids=[c.pk for c in patients.filter(patient_status="former")],
            actor=actor,
            origin="admin",
        )

    def _consents(self, program: Program, contact: Contact, actor: str, signed: Any) -> None:
        number = contact.phones.order_by("id").first()
        if number is None or Consent.objects.filter(contact=contact).exists():
            return
        former = contact.patient_status == "former"
        if former:
            consent_create(
                data=ConsentInput.of(
                    contact=contact,
                    kind="tcpa_written",
                    number=number.number,
                    purposes=["reactivation"],
                    signed_at=signed,
                    signature="/s/ demo e-signature",
                ),
                actor=actor,
            )
        consent_create(
            data=ConsentInput.of(
                contact=contact,
                kind="part2",
                purposes=["reactivation"] if former else ["reminder"],
                signed_at=signed,
                expires_at=None,
                expiration_event="one year after discharge",
                signature="/s/ demo signature on paper",
                recipients=[program.slug],
                description="that the person attended the program, and the discharge date",
                revocation_notice_given=True,
            ),
            actor=actor,
        )

    def _users(self, programs: dict[str, Program]) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        self._second_factor(admin)
        for username, (role, slugs) in USERS.items():
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": True}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
            for slug in slugs:
                programs[slug].members.add(user)
            self._second_factor(user)

    def _second_factor(self, user: Any) -> None:
        """Pre-enrol the demo secret, so that the demo signs in without an enrolment step."""
        if not TOTPDevice.objects.filter(user=user).exists():
            TOTPDevice.objects.create(
                user=user,
                name="demo authenticator",
                key=b32decode(DEMO_TOTP_SECRET).hex(),
                confirmed=True,
            )
