"""The live "My calls" in a real browser (headless Chromium, Playwright), with a real worker.

A staff member signs in with the second factor and sets themselves available;
a callback posted through the API appears on their open page without a reload
(the worker dispatches it as a preview offer) and is taken; a DNC request
posted while it is in hand withdraws it on the page, with its reason; the next
callback is taken, dialled and its outcome logged. A manager then opens the
supervisor view. Screenshots: `artifacts/my_calls_live*.png`, `artifacts/supervisor.png`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine
from django.db import connections

from audit.actors import actor_system
from dialer.api.clients import api_client_create
from dialer.models import CallAttempt, Outcome, PresenceState, StaffPresence, TaskStatus
from tests.conftest import Portfolio, authenticator, browser_sign_in
from tests.runtime.helpers import open_queue
from tests.runtime.test_my_calls_browser import (
    ARTIFACTS,
    _next_monday_morning,
    browser_page,  # noqa: F401 (a fixture)
)

SYSTEM = actor_system("tests")
FIRST, SECOND = "+13055550177", "+13055550178"
MY_CALLS = "/admin/dialer/mycall/"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_callback_arrives_live_is_withdrawn_live_and_the_next_is_logged(
    portfolio: Portfolio,
    live_server: Any,
    browser_page: Any,  # noqa: F811
    celery_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with time_machine.travel(_next_monday_morning(), tick=True):
            _live(portfolio, live_server.url, browser_page)
    finally:
        connections.close_all()


def _post(page: Any, url: str, token: str, path: str, body: dict[str, str]) -> Any:
    response = page.request.post(
        f"{url}/api/v1/{path}",
        data=json.dumps(body),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    assert response.status in (200, 201), response.text()
    return response.json()


def _offered(page: Any, queue_id: int) -> str:
    return str(page.locator(f"#waiting tr[data-queue='{queue_id}'] .offered").inner_text())


def _live(portfolio: Portfolio, url: str, page: Any) -> None:
    queue = open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    staff_device, manager_device = (
        authenticator(portfolio.staff_a),
        authenticator(portfolio.manager_a),
    )
    browser_sign_in(
        page, url, username="staff-a", password="pw-123456", device=staff_device, next_path=MY_CALLS
    )

    # 1. Available, answering at a SIP address.
    page.fill("#id_answer_at", "sip:staff-a@127.0.0.1")
    page.click("#presence-available")
    page.wait_for_selector("#presence-state:has-text('Available')")
    presence = StaffPresence.objects.get(user=portfolio.staff_a)
    assert (presence.state, presence.answer_at) == (
        PresenceState.AVAILABLE,
        "sip:staff-a@127.0.0.1",
    )
    assert _offered(page, queue.pk) == "0"

    # 2. A callback posted through the API appears on the open page, without a reload.
    page.evaluate("window.notReloaded = true")
    first = _post(page, url, token, "callbacks/", {"phone": FIRST, "source": "web-form"})
    page.wait_for_function(
        f"document.querySelector(\"#waiting tr[data-queue='{queue.pk}'] .offered\")"
        ".textContent.trim() === '1'"
    )
    assert page.evaluate("window.notReloaded") is True
    live = page.request.get(f"{url}{MY_CALLS}live/?had=").text()
    assert FIRST not in live and FIRST[2:] not in live  # what waits carries no number

    # 3. Taken: the disclosure and the script; no number before Dial.
    page.click("#take-next")
    page.locator("#recording-disclosure").wait_for(state="visible")
    assert page.locator("#consent-basis").inner_text().startswith("The call rests on")
    assert page.locator("#dial-number").count() == 0
    taken = CallAttempt.objects.get(task_id=first["task"]["id"])
    assert taken.placed_by == portfolio.staff_a and taken.outcome == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "my_calls_live.png"), full_page=True)

    # 4. The person asks not to be called (through the API): the call leaves the page.
    page.evaluate("window.notReloaded = true")
    _post(page, url, token, "dnc/", {"number": FIRST, "source": "crm", "note": ""})
    page.locator("#withdrawn-notice").wait_for(state="visible")
    notice = page.locator("#withdrawn-text").inner_text()
    assert "withdrawn" in notice and "Do not dial" in notice
    assert "dnc" in notice.lower()
    assert FIRST not in notice and FIRST[2:] not in notice
    assert page.locator("#recording-disclosure").count() == 0
    assert page.locator("#take-next").is_visible()
    assert page.evaluate("window.notReloaded") is True
    taken.refresh_from_db()
    assert taken.outcome == Outcome.WITHDRAWN and taken.dialled_at is None
    page.screenshot(path=str(ARTIFACTS / "my_calls_live_withdrawn.png"), full_page=True)

    # 5. The next callback: taken, dialled, its outcome logged.
    second = _post(page, url, token, "callbacks/", {"phone": SECOND, "source": "web-form"})
    page.wait_for_function(
        f"document.querySelector(\"#waiting tr[data-queue='{queue.pk}'] .offered\")"
        ".textContent.trim() === '1'"
    )
    page.click("#take-next")
    page.click("#dial")
    page.locator("#dial-number").wait_for(state="visible")
    assert page.locator("#dial-number").inner_text() == SECOND
    page.fill("#id_duration_seconds", "95")
    page.click("button[name=outcome][value=connected]")
    page.wait_for_selector("text=Outcome logged for call")
    attempt = CallAttempt.objects.get(task_id=second["task"]["id"])
    assert (attempt.outcome, attempt.placed_by) == (Outcome.CONNECTED, portfolio.staff_a)
    assert attempt.task.status == TaskStatus.DONE

    # 6. The manager's supervisor view: the staff member, today's connect, the chart.
    page.context.clear_cookies()
    browser_sign_in(
        page,
        url,
        username="manager-a",
        password="pw-123456",
        device=manager_device,
        next_path="/admin/dialer/staffpresence/",
    )
    assert page.locator("h1").inner_text() == "Supervisor view"
    staff_row = page.locator("#staff tr:has-text('staff-a')")
    assert "Available" in staff_row.inner_text()
    callbacks_row = page.locator(f"#queues tr:has-text('{queue.name}')")
    assert callbacks_row.locator(".connects").inner_text() == "1"
    assert page.locator("#latency-chart").get_attribute("src").startswith("data:image/svg+xml")
    page.screenshot(path=str(ARTIFACTS / "supervisor.png"), full_page=True)
    assert (ARTIFACTS / "supervisor.png").stat().st_size > 10_000
