"""The set-up commands of API.md."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from campaigns.models import Contact, Program, Queue
from dialer.api.clients import api_client_for_token
from dialer.models import ApiClient, Appointment, CallTask


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_create_program_prints_its_slug() -> None:
    assert (
        _run("create_program", "--slug", "sunrise", "--name", "Sunrise", "--state", "TX").strip()
        == "sunrise"
    )
    program = Program.objects.get(slug="sunrise")
    assert program.timezone == "America/Chicago"


@pytest.mark.django_db
def test_create_program_names_the_bad_field() -> None:
    with pytest.raises(CommandError, match="--state"):
        _run("create_program", "--slug", "x", "--name", "X", "--state", "ZZ")
    with pytest.raises(CommandError, match="--timezone"):
        _run(
            "create_program",
            "--slug",
            "x",
            "--name",
            "X",
            "--state",
            "TX",
            "--timezone",
            "Mars/Base",
        )
    assert not Program.objects.filter(slug="x").exists()


@pytest.mark.django_db
def test_create_api_client_prints_the_token_last_and_keeps_only_its_hash() -> None:
    _run("create_program", "--slug", "sunrise", "--name", "Sunrise", "--state", "TX")
    token = (
        _run("create_api_client", "--program", "sunrise", "--name", "crm", "--role", "manager")
        .strip()
        .splitlines()[-1]
    )
    client = ApiClient.objects.get()
    assert client.role == "manager"
    assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in client.token_hash
    assert api_client_for_token(token) == client
    assert api_client_for_token(token + "x") is None


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    first = _run("seed_demo")
    counts = (
        Program.objects.count(),
        Queue.objects.count(),
        Contact.objects.count(),
        User.objects.count(),
    )
    second = _run("seed_demo")
    assert counts == (
        Program.objects.count(),
        Queue.objects.count(),
        Contact.objects.count(),
        User.objects.count(),
    )
    assert counts[0] == 2 and counts[1] == 6
    assert "Login: admin /" in first and "Login: admin /" in second
    states = set(Program.objects.values_list("state", flat=True))
    assert len(states) == 2
    purposes = {q.purpose for q in Queue.objects.filter(program__slug="harbor-recovery")}
    assert purposes == {"callback", "reminder", "reactivation"}
    # Reminders and reactivation work come from the services, once however often it runs.
    open_tasks = CallTask.objects.filter(status="pending", queue__program__slug="harbor-recovery")
    assert {t.queue.purpose for t in open_tasks} >= {"reminder", "reactivation"}
    assert open_tasks.count() == len({(t.queue_id, t.number_hash) for t in open_tasks})
    reminder = open_tasks.get(queue__purpose="reminder")
    assert Appointment.objects.get(task=reminder).starts_at == reminder.appointment_at
