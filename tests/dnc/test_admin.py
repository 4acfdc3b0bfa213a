"""The DNC admin: record a request, program scoping, removal with a reason, scrub, freshness."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import Contact, PhoneNumber, Program, Queue
from campaigns.roles import ADMISSIONS_STAFF, CAMPAIGN_MANAGER, COMPLIANCE_OFFICER, roles_sync
from dialer.models import CallTask, TaskStatus
from dnc.models import InternalDncEntry
from tests.dnc.conftest import load, write

pytestmark = pytest.mark.django_db


def _user(name: str, role: str, *programs: Program) -> Client:
    user = User.objects.create_user(username=name, password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for program in programs:
        program.members.add(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def setup(db: Any) -> dict[str, Any]:
    roles_sync()
    a = Program.objects.create(slug="prog-a", legal_name="A", neutral_name="A", state="FL")
    b = Program.objects.create(slug="prog-b", legal_name="B", neutral_name="B", state="AZ")
    queue = Queue.objects.create(program=a, slug="callback", name="Callback", purpose="callback")
    contact = Contact.objects.create(program=a, external_id="A-1")
    phone = PhoneNumber.objects.create(contact=contact, number="+13055550123")
    task = CallTask.objects.create(
        contact=contact,
        phone=phone,
        number_hash=phone.number_hash,
        queue=queue,
        next_attempt_at=timezone.now(),
        origin="api",
    )
    return {
        "a": a,
        "b": b,
        "task": task,
        "staff_a": _user("staff-a", ADMISSIONS_STAFF, a),
        "staff_b": _user("staff-b", ADMISSIONS_STAFF, b),
        "manager_a": _user("manager-a", CAMPAIGN_MANAGER, a),
        "compliance": _user("compliance", COMPLIANCE_OFFICER, a),
    }


def _record(client: Client, program: Program, number: str) -> Any:
    return client.post(
        reverse("admin:dnc_internaldncentry_add"),
        {"number": number, "program": program.pk, "note": "asked on the phone"},
    )


def test_staff_record_a_request_and_the_pending_call_is_cancelled(setup: dict[str, Any]) -> None:
    response = _record(setup["staff_a"], setup["a"], "(305) 555-0123")
    entry = InternalDncEntry.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:dnc_internaldncentry_change", args=[entry.pk])
    assert (entry.program_id, entry.source) == (setup["a"].pk, "admin")
    setup["task"].refresh_from_db()
    assert setup["task"].status == TaskStatus.CANCELLED
    page = setup["staff_a"].get(response.url).content.decode()
    assert "***-***-**23" in page and "5550123" not in page
    assert "Remove from the list" not in page  # staff may not remove


def test_each_program_sees_its_own_entries_and_compliance_sees_all(setup: dict[str, Any]) -> None:
    _record(setup["staff_a"], setup["a"], "305-555-0123")
    entry = InternalDncEntry.objects.get()
    changelist = reverse("admin:dnc_internaldncentry_changelist")
    assert str(entry) in setup["staff_a"].get(changelist).content.decode()
    assert str(entry) not in setup["staff_b"].get(changelist).content.decode()
    detail = setup["staff_b"].get(reverse("admin:dnc_internaldncentry_change", args=[entry.pk]))
    assert detail.status_code == 302  # "does not exist", never the entry
    found = setup["compliance"].get(changelist, {"q": "+1 305 555 0123"}).content.decode()
    assert str(entry) in found
    assert (
        str(entry)
        not in setup["compliance"].get(changelist, {"q": "305 555 0124"}).content.decode()
    )


def test_removal_needs_the_permission_and_a_reason_and_nothing_deletes(
    setup: dict[str, Any],
) -> None:
    _record(setup["staff_a"], setup["a"], "305-555-0123")
    entry = InternalDncEntry.objects.get()
    remove = reverse("admin:dnc_internal_remove", args=[entry.pk])
    assert setup["staff_a"].post(remove, {"reason": "entered_in_error"}).status_code == 403
    page = setup["compliance"].get(reverse("admin:dnc_internaldncentry_change", args=[entry.pk]))
    assert "Remove from the list" in page.content.decode()
    refused = setup["compliance"].post(remove, {"reason": "other", "note": ""})
    assert refused.status_code == 200 and "Explain" in refused.content.decode()
    assert setup["compliance"].post(remove, {"reason": "entered_in_error"}).status_code == 302
    entry.refresh_from_db()
    assert entry.removed_at is not None
    assert AuditEvent.objects.filter(
        action="dnc.internal_removed", reason="entered_in_error"
    ).exists()
    delete = reverse("admin:dnc_internaldncentry_delete", args=[entry.pk])
    assert setup["compliance"].post(delete, {"post": "yes"}).status_code == 403
    assert InternalDncEntry.objects.filter(pk=entry.pk).exists()


def test_a_scrub_returns_exactly_the_uploaded_numbers(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    _record(setup["staff_a"], setup["a"], "602-555-0100")  # internal
    today = timezone.now().date()
    load("national", write(tmp_path / "212.txt", ["2125550101"]), as_of=today)
    load("state:TX", write(tmp_path / "tx.txt", ["2125550101"]), as_of=today)
    upload = "number,name\n(212) 555-0101\n2125550102\nnot a number 12\n602.555.0100\n"
    url = reverse("admin:dnc_scrub")
    assert setup["staff_a"].get(url).status_code == 403  # staff do not scrub lists
    response = setup["manager_a"].post(
        url, {"file": SimpleUploadedFile("list.csv", upload.encode())}
    )
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["number", "internal", "national", "states", "note"],
        ["+12125550101", "no", "yes", "TX", ""],
        ["+12125550102", "no", "no", "", ""],
        ["", "", "", "", "line 4: not a valid US number"],
        ["+16025550100", "yes", "no", "", "no national registry copy for this area code"],
    ]
    assert AuditEvent.objects.get(action="dnc.list_scrubbed").data == {
        "lines": 4,
        "numbers": 3,
        "listed": 2,
    }


def test_the_freshness_page_shows_what_expires_next(setup: dict[str, Any], tmp_path: Path) -> None:
    today = timezone.now().date()
    load("national", write(tmp_path / "212.txt", ["2125550101"]), as_of=today - timedelta(days=40))
    load("national", write(tmp_path / "305.txt", ["3055550101"]), as_of=today - timedelta(days=27))
    load("state:FL", write(tmp_path / "fl.txt", ["3055550101"]), as_of=today)
    page = (
        setup["compliance"].get(reverse("admin:dnc_registrycoverage_changelist")).content.decode()
    )
    assert "Next to expire:</strong> national 212" in page
    assert "expired: solicitation calls blocked" in page
    assert "fresh, 4 days left" in page
    assert page.index("national 212") < page.index("fresh, 4 days left")
    assert setup["staff_a"].get(reverse("admin:dnc_registrycoverage_changelist")).status_code == 403
