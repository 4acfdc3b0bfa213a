"""The dashboard rendered by headless Chromium: the charts load, and a screenshot is kept.

The picture is saved as artifacts/marketing-dashboard.png (git-ignored) for a
person to look at. Needs Debian's chromium and the playwright package (its
driver only: never `playwright install`); skipped with a message without chromium.
The playwright package is pinned, so its absence fails the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from playwright import sync_api

from tests.conftest import authenticator, browser_sign_in
from tests.reports.conftest import BOTH, Planted, marketing_or_skip

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
SHOT = Path(settings.BASE_DIR) / "artifacts" / "marketing-dashboard.png"


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_charts_render_in_chromium(live_server: Any, planted: Planted, analyst_a: User) -> None:
    marketing_or_skip()
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    SHOT.parent.mkdir(exist_ok=True)
    device = authenticator(analyst_a)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # Loopback only: the live server, nothing else.
            page.route("**/*", _loopback_only)
            browser_sign_in(
                page,
                live_server.url,
                username=analyst_a.username,
                password="pw-123456",
                device=device,
                next_path=reverse("admin:reports_marketingcall_changelist"),
            )
            page.wait_for_load_state("load")
            assert page.title().startswith("Marketing dashboard")
            sizes = page.eval_on_selector_all(
                "img.mkt-chart-img",
                "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])",
            )
            page.screenshot(path=str(SHOT), full_page=True)
        finally:
            browser.close()
    assert len(sizes) == 6
    for complete, width, height in sizes:
        assert complete and width > 300 and height > 150  # decoded and drawn, not broken
    assert SHOT.stat().st_size > 20_000


def _loopback_only(route: Any) -> None:
    url: str = route.request.url
    if url.startswith(("http://localhost", "http://127.0.0.1", "data:")):
        route.continue_()
    else:
        route.abort()
