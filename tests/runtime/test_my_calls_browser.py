"""My calls in a real browser: headless Chromium (Debian's) driven by Playwright.

A staff member signs in (password, then the TOTP code), opens My calls, takes
the next call, reads the recording disclosure and then the script, presses Dial
(the number shows only then), and logs an outcome; the page is kept as
`artifacts/my_calls.png` (and `artifacts/my_calls_logged.png`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connections
from playwright import sync_api  # pinned in pyproject.toml: missing is a failure

from dialer.models import CallAttempt, CallTask, Outcome, TaskStatus
from dialer.runtime.dispatch import dispatch_task
from tests.conftest import Portfolio, authenticator, browser_sign_in
from tests.runtime.helpers import planned_task

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True
    )


def _next_monday_morning() -> datetime:
    """15:00 UTC on the coming Monday (10:00 or 11:00 in Miami): the window is open.

    Near the real date, so that the session cookie the server dates is not
    already expired for the browser, which lives in real time.
    """
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, time(15), tzinfo=UTC)


@pytest.fixture
def browser_page() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_staff_member_takes_a_call_reads_the_disclosure_first_and_logs_the_outcome(
    portfolio: Portfolio,
    live_server: Any,
    browser_page: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Playwright's sync API keeps an event loop in this thread; our ORM calls here are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        _work_the_call(portfolio, live_server.url, browser_page)
    finally:
        # Under Playwright's greenlet this body has its own database connection: close it,
        # or the test database cannot be dropped at the end of the run.
        connections.close_all()


def _work_the_call(portfolio: Portfolio, url: str, page: Any) -> None:
    with time_machine.travel(_next_monday_morning(), tick=True):
        task = planned_task(portfolio.callback_a, portfolio.contact_a)
        placed = dispatch_task(task_id=task.pk)
        assert placed.status == "placed" and placed.attempt_id is not None

        browser_sign_in(
            page,
            url,
            username="staff-a",
            password="pw-123456",
            device=authenticator(portfolio.staff_a),
            next_path="/admin/dialer/mycall/",
        )
        assert page.locator("h1").inner_text() == "My calls"

        page.click("#take-next")
        disclosure = page.locator("#recording-disclosure")
        script = page.locator("#script-body")
        disclosure.wait_for(state="visible")
        assert "This call may be recorded" in disclosure.inner_text()
        assert "Hello, returning your call." in script.inner_text()
        # The number shows only once Dial has decided the call again and allowed it.
        assert page.locator("#dial-number").count() == 0
        page.click("#dial")
        page.locator("#dial-number").wait_for(state="visible")
        assert page.locator("#dial-number").inner_text() == "+13055550123"
        # Read first: the disclosure is above the script on the page.
        assert disclosure.bounding_box()["y"] < script.bounding_box()["y"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "my_calls.png"), full_page=True)

        page.select_option("#id_recording_consent", "yes")
        page.fill("#id_duration_seconds", "240")
        page.click("button[name=outcome][value=connected]")
        page.wait_for_selector("text=Outcome logged for call")
        assert page.locator("#take-next").is_visible()  # ready for the next one
        page.screenshot(path=str(ARTIFACTS / "my_calls_logged.png"), full_page=True)

    attempt = CallAttempt.objects.get(pk=placed.attempt_id)
    assert attempt.outcome == Outcome.CONNECTED
    assert attempt.recording_consent is True
    assert attempt.duration_seconds == 240
    assert attempt.placed_by == portfolio.staff_a
    task.refresh_from_db()
    assert (task.status, task.closed_reason) == (TaskStatus.DONE, "connected")
    assert CallTask.objects.get(pk=task.pk).attempts == 1
    assert (ARTIFACTS / "my_calls.png").stat().st_size > 10_000
