"""`seed_demo`: an idempotent demo portfolio (two programs, three queues each, every role).

Its callbacks, reminders, reactivation work and internal DNC entries are made
by the services the API uses (`callback_request`, `appointment_record`,
`enrollment_create`, `dnc_request_record`), so the demo's tasks are decided by
the same rules as everyone's. It lives in the dialer because of that.

Callbacks due now come from people in zones across the country, so that at
most hours some of them may be called now and "Take the next call" gives a
call at once: they are dispatched here, before the web server starts. The
law's windows still hold: when no zone's window is open (early morning UTC),
the demo says so and when the first opens.

Reactivation calls need a fresh registry copy: the demo loads a small sample
(`dialer.management.demo_registry`). The portfolio itself is in
`dialer.management.demo_data`.
"""

from __future__ import annotations

import os
from base64 import b32decode
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import actor_system
from audit.services import audit_record
from campaigns.models import Contact, Program, Purpose
from campaigns.roles import roles_sync
from campaigns.services import PhoneInput, contact_create, program_create, queue_create
from consent.inputs import ConsentInput
from consent.models import Consent
from consent.services import consent_create
from dialer.acts.appointments import appointment_record
from dialer.acts.callbacks import callback_request
from dialer.acts.enrollments import enrollment_create
from dialer.acts.optout import dnc_request_record
from dialer.api.clients import api_client_create
from dialer.management.demo_data import (
    ALWAYS_OPEN,
    API_CLIENT_NAME,
    CALLBACKS,
    CONTACTS,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    INTERNAL_DNC,
    NO_PART2,
    PROGRAMS,
    QUEUES,
    SCRIPT,
    USERS,
)
from dialer.management.demo_registry import demo_registry_load
from dialer.models import ApiClient, CallAttempt, CallTask, TaskStatus
from dialer.runtime.dispatch import dispatch_task


class Command(BaseCommand):
    help = "Create (or complete) the demo portfolio; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        actor = actor_system("seed_demo")
        roles_sync()
        demo_registry_load(stdout=self.stdout)
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
            for number in INTERNAL_DNC:
                dnc_request_record(
                    number=number, source="phone", note="demo", actor=actor, program_id=None
                )
            harbor = programs["harbor-recovery"]
            self._callbacks(harbor, actor)
            token = self._api_token(harbor, actor)
            self._users(programs)
        # Committed: dispatch the callbacks due now as the worker would, so that the first
        # "Take the next call" has one (dispatch decides each again).
        due = CallTask.objects.filter(
            queue__program=harbor,
            queue__purpose=Purpose.CALLBACK,
            status=TaskStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
        ).values_list("id", flat=True)
        for task_id in list(due):
            dispatch_task(task_id=task_id)
        url = os.environ.get("DEMO_URL", "http://127.0.0.1:8000/admin/")
        self.stdout.write(f"Demo ready at {url}")
        self.stdout.write(f"Login: admin / {DEMO_PASSWORD} (operator, sees every program)")
        self.stdout.write(f"Staff logins (same password): {', '.join(USERS)}")
        self.stdout.write(
            f"Second factor of every demo login: TOTP secret {DEMO_TOTP_SECRET} "
            "(add it to an authenticator app)"
        )
        self.stdout.write(
            f"API token of {harbor.legal_name} (shown once; earlier demo tokens are retired): "
            f"{token}"
        )
        self.stdout.write(self._offer_note(harbor))

    def _callbacks(self, program: Program, actor: str) -> None:
        """Callbacks requested a few minutes ago (an open one is answered again, not
        doubled); `handle` dispatches those due once committed."""
        now = timezone.now()
        for minutes, (state, zip_code, number, source) in enumerate(CALLBACKS, start=3):
            callback_request(
                program=program,
                actor=actor,
                origin="api",
                enqueue=lambda task_id: None,  # dispatched by `handle`, in this process
                phone=number,
                requested_at=now - timedelta(minutes=minutes * 4),
                source=source,
                state=state,
                postal_code=zip_code,
            )

    def _api_token(self, program: Program, actor: str) -> str:
        """A fresh token for the demo CRM (only a token's hash is kept, so an earlier one
        cannot be shown again: it is retired)."""
        ApiClient.objects.filter(program=program, name=API_CLIENT_NAME, active=True).update(
            active=False
        )
        _, token = api_client_create(program=program, name=API_CLIENT_NAME, actor=actor)
        return token

    def _offer_note(self, program: Program) -> str:
        offered = CallAttempt.objects.filter(
            task__queue__program=program, backend="preview", outcome="", placed_by__isnull=True
        ).count()
        if offered:
            return (
                f"{offered} call(s) are ready in My calls for staff.harbor: "
                "Take the next call gives one now."
            )
        first: datetime | None = (
            CallTask.objects.filter(queue__program=program, status=TaskStatus.PENDING)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        when = f" The first opens at {first:%H:%M} UTC." if first else ""
        return (
            "No demo call can be offered right now: every demo callback's calling window "
            "(the law's hours in the called person's zone) is closed." + when
        )

    def _program(self, spec: dict[str, str], actor: str) -> Program:
        program = Program.objects.filter(slug=spec["slug"]).first()
        if program is None:
            program = program_create(actor=actor, **spec)
            program.business_start, program.business_end = ALWAYS_OPEN
            program.save(update_fields=["business_start", "business_end"])
            audit_record(
                actor=actor,
                action="program.changed",
                object_type="program",
                object_id=program.pk,
                program_id=program.pk,
                data={"fields": ["business_start", "business_end"]},
            )
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
        for contact in patients.exclude(external_id__in=NO_PART2):
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
