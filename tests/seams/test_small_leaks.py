"""The small leaks of the admin: search terms in request logs, "My calls" pages of
another program, other programs' names in list filters, and queue fields the API
keeps fixed."""

from __future__ import annotations

import logging
import re
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Queue
from dialer.models import CallAttempt, CallTask, TaskStatus
from tests.conftest import Portfolio
from tests.runtime.helpers import wait_for


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + repr(record.args))


@pytest.fixture
def runserver() -> Iterator[str]:
    """Django's own development server (the request lines runserver logs), on loopback."""
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db(transaction=True)
def test_an_admin_search_for_a_number_or_a_name_is_logged_redacted(
    portfolio: Portfolio, runserver: str
) -> None:
    session = _client(portfolio.staff_a).cookies["sessionid"].value
    contacts = reverse("admin:campaigns_contact_changelist")
    change = reverse("admin:campaigns_contact_change", args=[portfolio.contact_a.pk])
    paths = [
        f"{contacts}?q=305+555+0123",
        f"{contacts}?q=Avery+Alpha&program__id__exact={portfolio.program_a.pk}",
        f"{contacts}?q=%28305%29%20555-0123",
        # The search kept through a visit to one contact, encoded once more.
        f"{change}?_changelist_filters=q%3D305%2B555%2B0123",
        f"{change}?_changelist_filters=q%3DAvery%2BAlpha%26state__exact%3DFL",
    ]
    lines = _Lines()
    server_log = logging.getLogger("django.server")
    server_log.addHandler(lines)
    try:
        for path in paths:
            url = runserver + path  # http, on loopback
            cookie = {"Cookie": f"sessionid={session}"}
            request = urllib.request.Request(url, headers=cookie)  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                assert response.status == 200
        # The server logs a request line once the answer is sent.
        wait_for(lambda: len(lines.lines) == len(paths), timeout=10)
    finally:
        server_log.removeHandler(lines)

    for line in lines.lines:
        assert "[redacted]" in line, line
        for leak in ("555", "Avery", "Alpha"):
            assert leak not in line, line
    # What is not a search term stays readable for whoever reads the log.
    assert any(f"program__id__exact={portfolio.program_a.pk}" in line for line in lines.lines)
    assert any("state__exact%3DFL" in line for line in lines.lines)


def _attempt_of_a(portfolio: Portfolio) -> CallAttempt:
    phone = portfolio.contact_a.phones.get()
    task = CallTask.objects.create(
        contact=portfolio.contact_a,
        phone=phone,
        number_hash=phone.number_hash,
        queue=portfolio.callback_a,
        status=TaskStatus.IN_PROGRESS,
        attempts=1,
        next_attempt_at=timezone.now(),
        origin="api",
    )
    return CallAttempt.objects.create(
        task=task, phone=phone, attempt_number=1, started_at=timezone.now(), backend="preview"
    )


@pytest.mark.django_db
def test_my_calls_pages_of_another_programs_attempt_are_not_shown(portfolio: Portfolio) -> None:
    attempt = _attempt_of_a(portfolio)
    pages = [
        reverse("admin:dialer_mycall_change", args=[attempt.pk]),
        reverse("admin:dialer_mycall_history", args=[attempt.pk]),
    ]
    own, other = _client(portfolio.staff_a), _client(portfolio.staff_b)
    for page in pages:
        assert own.get(page).status_code == 200, page
        answer = other.get(page)
        # Django's "does not exist" (a redirect to the index), never the attempt.
        assert answer.status_code == 302, page
        assert answer["Location"] == reverse("admin:index")


# Every changelist whose sidebar filters on a program, directly or through a relation.
FILTERED = [
    "campaigns_queue",
    "campaigns_script",
    "campaigns_contact",
    "dialer_calltask",
    "dialer_apiclient",
    "consent_consent",
    "consent_disclosure",
    "consent_alumniimport",
]


@pytest.mark.django_db
def test_list_filters_name_only_the_users_programs(portfolio: Portfolio) -> None:
    _attempt_of_a(portfolio)  # something of A's in the task list
    shown = 0
    for user, foreign in ((portfolio.staff_b, "prog-a"), (portfolio.manager_a, "prog-b")):
        client = _client(user)
        for model in FILTERED:
            page = client.get(reverse(f"admin:{model}_changelist"))
            if page.status_code == 403:  # not this role's page
                continue
            assert page.status_code == 200, model
            shown += 1
            assert foreign not in page.content.decode(), (user.username, model)
    assert shown >= 6


@pytest.mark.django_db
def test_the_admin_keeps_a_queues_program_and_purpose(portfolio: Portfolio) -> None:
    queue = portfolio.callback_a
    url = reverse("admin:campaigns_queue_change", args=[queue.pk])
    client = _client(portfolio.manager_a)
    form = client.get(url).content.decode()
    assert 'name="purpose"' not in form and 'name="program"' not in form
    inlines: dict[str, Any] = dict(
        re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL)_FORMS)" value="(\d+)"', form)
    )
    response = client.post(
        url,
        {
            **inlines,
            "program": portfolio.program_a.pk,
            "slug": queue.slug,
            "name": "Renamed",
            "purpose": "reactivation",
            "window_start": "09:00",
            "window_end": "20:00",
            "days": ["0", "1", "2"],
            "max_attempts": "3",
            "retry_minutes": "60",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Queue.objects.get(pk=queue.pk)
    assert saved.name == "Renamed"  # the rest of the form still saves
    assert saved.purpose == "callback" and saved.program_id == portfolio.program_a.pk
