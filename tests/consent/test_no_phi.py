"""No name or number in a log line or an exception message, whatever goes wrong."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery import current_app
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact
from campaigns.roles import COMPLIANCE_OFFICER
from consent.disclosures import consents_export_csv
from consent.services import ConsentInput, consent_create
from dialer.acts import alumni_import as module
from dialer.acts.alumni_import import alumni_import, alumni_import_run, alumni_import_submit
from dialer.acts.revocation import consent_revoke_and_cancel, consent_revoke_by_keyword
from tests.conftest import SYSTEM, Portfolio, make_user
from tests.consent.conftest import ALUM_NAME, part2, written

SECRETS = (
    "5550150",
    "555-0150",
    "555-0199",
    "5550199",
    "0199",
    *ALUM_NAME,
    "Wilhelmina",
    "Okonkwo",
)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.django_db
def test_nothing_identifying_reaches_a_log_line_or_an_error(
    portfolio: Portfolio, alum: Contact, caplog: Any, monkeypatch: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []

    def refused(call: Any) -> None:
        try:
            call()
        except (ValidationError, ValueError) as exc:
            messages.append(str(exc))
        else:
            raise AssertionError("expected a refusal")

    # Consents: refused with a bad number, with a missing element; made; revoked.
    refused(lambda: written(alum, number="(305) 555-019"))
    refused(lambda: part2(alum, description="", signature=""))
    refused(
        lambda: consent_create(
            data=ConsentInput.of(
                contact=alum, kind="part2", signed_at=timezone.now(), number="305-555-0199"
            ),
            actor=SYSTEM,
        )
    )
    tcpa = written(alum)
    consent = part2(alum)
    consent_revoke_by_keyword(
        contact=alum, number="305-555-0150", text="STOP Quinn here", actor=SYSTEM
    )
    consent_revoke_and_cancel(
        consent_id=consent.pk, channel="written", reason="Quinn Zephyrine wrote", actor=SYSTEM
    )
    # Any channel is taken (never refused for its wording): kept encrypted, out of the trail.
    consent_revoke_and_cancel(consent_id=tcpa.pk, channel="by 305-555-0199", actor=SYSTEM)
    trail = AuditEvent.objects.filter(action="consent.revoked", object_id=str(tcpa.pk)).get()
    assert not leaks(f"{trail.reason} {trail.data}")
    refused(
        lambda: consent_revoke_by_keyword(
            contact=alum, number="555-0199", text="stop", actor=SYSTEM
        )
    )

    # Imports: a bad file, a good one, a worker that breaks with a value in its error.
    bad = "external_id,first_name,phone\nX,Wilhelmina,305-555-019\nY,Okonkwo,not a number\n"
    report = alumni_import(queue=portfolio.reactivation_a, data=bad, actor=SYSTEM)
    messages.extend(f"{e.field}: {e.message}" for e in report.errors)
    good = "external_id,first_name,last_name,phone\nN-1,Wilhelmina,Okonkwo,305-555-0199\n"
    messages.append(
        str(alumni_import(queue=portfolio.reactivation_a, data=good, actor=SYSTEM).to_dict())
    )
    monkeypatch.setattr(module, "INLINE_MAX_ROWS", 0)
    monkeypatch.setattr(current_app, "send_task", lambda name, args: None)
    run, _ = alumni_import_submit(queue=portfolio.reactivation_a, data=good, actor=SYSTEM)
    assert run is not None

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("row for Wilhelmina Okonkwo at +13055550199 failed")

    monkeypatch.setattr(module, "alumni_import_rows", broken)
    failed = alumni_import_run(import_id=run.pk)
    assert failed is not None
    messages.append(str(failed.to_dict()))

    # Exports and admin pages (a refused export too).
    consents_export_csv(contact=alum, recipient="the patient", purpose="request", actor=SYSTEM)
    officer = make_user("officer-a", COMPLIANCE_OFFICER, portfolio.program_a)
    client = Client()
    client.force_login(officer)
    client.post(
        reverse("admin:consent_consent_export", args=[alum.pk]), {"recipient": "", "purpose": ""}
    )
    client.get(reverse("admin:consent_consent_change", args=[tcpa.pk]))

    assert len(messages) >= 8
    assert any("stopped after" in r.getMessage() for r in caplog.records)  # the logs were captured
    for message in messages:
        assert not leaks(message), message
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "") + str(record.args or "")
        assert not leaks(text), text
