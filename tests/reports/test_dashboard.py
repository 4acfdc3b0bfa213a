"""The marketing dashboard: who sees it, what it shows, and what it never shows."""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from reports.routers import MARKETING_DB
from tests.conftest import Portfolio
from tests.reports.conftest import BOTH, Planted, assert_nothing_identifying, marketing_or_skip

DASHBOARD = "admin:reports_marketingcall_changelist"
EXPORT = "admin:reports_marketingcall_export"
CHART = re.compile(
    r'<img class="mkt-chart-img" id="chart-(\w+)" src="data:image/svg\+xml;base64,([^"]+)"'
)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _kpi(page: str, label: str) -> str:
    found = re.search(
        r'<div class="value">([^<]*)</div><div class="label">' + re.escape(label) + "<", page
    )
    assert found, label
    return found.group(1)


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_an_analyst_sees_the_dashboard_of_her_programs_and_nothing_identifying(
    planted: Planted, analyst_a: User
) -> None:
    marketing_or_skip()
    response = _client(analyst_a).get(reverse(DASHBOARD))
    assert response.status_code == 200
    page = response.content.decode()
    expected = planted.expected["prog-a"]
    assert _kpi(page, "Attempts") == str(expected["attempts"])
    assert _kpi(page, "Connects") == str(expected["connects"])
    assert _kpi(page, "Connect rate") == "60.0%"
    assert _kpi(page, "Abandonment rate") == "25.0%"  # 1 abandoned of 4 answered
    # Median of the two callback leads' first calls: 90 s and 15 min.
    assert _kpi(page, "Speed to first attempt (median)") == "8.2 min"  # (90 s + 900 s) / 2
    charts = dict(CHART.findall(page))
    assert set(charts) == {"week", "hour", "speed", "queue", "source", "program"}
    for name, data in charts.items():
        svg = base64.b64decode(data).decode()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg, name
        assert "<script" not in svg and "<text" not in svg, name  # text drawn as paths
        assert_nothing_identifying(svg, f"the {name} chart")
    assert_nothing_identifying(page, "the dashboard")
    assert "prog-b" not in page  # another program's name, let alone its numbers
    assert "facebook" not in page


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_campaign_manager_sees_it_too_but_admissions_staff_do_not(planted: Planted) -> None:
    marketing_or_skip()
    p = planted.portfolio
    assert _client(p.manager_a).get(reverse(DASHBOARD)).status_code == 200
    assert _client(p.staff_a).get(reverse(DASHBOARD)).status_code == 403
    assert _client(p.staff_a).get(reverse(EXPORT)).status_code == 403


@pytest.mark.django_db
def test_an_analyst_opens_no_identifying_page(portfolio: Portfolio, analyst_a: User) -> None:
    client = _client(analyst_a)
    contact = portfolio.contact_a
    phone = contact.phones.get()
    for url in (
        reverse("admin:campaigns_contact_changelist"),
        reverse("admin:campaigns_contact_change", args=[contact.pk]),
        reverse("admin:campaigns_phonenumber_changelist"),
        reverse("admin:campaigns_phonenumber_change", args=[phone.pk]),
        reverse("admin:dialer_calltask_changelist"),
        reverse("admin:dialer_callattempt_changelist"),
        reverse("admin:audit_auditevent_changelist"),
        reverse("admin:consent_consent_changelist"),
        reverse("admin:dnc_internaldncentry_changelist"),
    ):
        assert client.get(url).status_code == 403, url
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) in index
    assert reverse("admin:campaigns_contact_changelist") not in index
    assert not AuditEvent.objects.filter(action="contact.identifiers_viewed").exists()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_an_analyst_cannot_pick_another_program(planted: Planted, analyst_a: User) -> None:
    marketing_or_skip()
    client = _client(analyst_a)
    b = planted.portfolio.program_b
    for name in (DASHBOARD, EXPORT):
        response = client.get(reverse(name), {"program": b.pk})
        assert response.status_code == 400, name
        assert "facebook" not in response.content.decode()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_csv_export_holds_the_numbers_and_is_recorded(
    planted: Planted, analyst_a: User
) -> None:
    marketing_or_skip()
    response = _client(analyst_a).get(reverse(EXPORT))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert_nothing_identifying(text, "the CSV export")
    rows = list(csv.DictReader(io.StringIO(text)))
    by = {(r["dimension"], r["key"]): r for r in rows}
    total = by[("total", "all")]
    assert (total["attempts"], total["connects"], total["abandoned"]) == ("5", "3", "1")
    assert by[("queue", "prog-a/callback")]["attempts"] == "3"
    assert by[("source", "google-ads")]["median_seconds_to_first_attempt"] == "90"
    assert by[("source", "(other)")]["connects"] == "2"
    assert {r["key"] for r in rows if r["dimension"] == "program"} == {"prog-a"}
    assert len([r for r in rows if r["dimension"] == "hour"]) == 24
    event = AuditEvent.objects.get(action="reports.dashboard_csv_exported")
    assert event.actor == f"user:{analyst_a.pk}"
    assert event.data["programs"] == [planted.portfolio.program_a.pk]


@pytest.fixture
def marketing_unreachable() -> Iterator[None]:
    connection = connections[MARKETING_DB]
    saved: dict[str, Any] = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["USER"] = "no_such_marketing_role"
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_without_the_role_it_fails_closed(
    portfolio: Portfolio, analyst_a: User, marketing_unreachable: None, caplog: Any
) -> None:
    client = _client(analyst_a)
    page = client.get(reverse(DASHBOARD))
    assert page.status_code == 503
    assert "manage.py marketing_role" in page.content.decode()
    assert "mkt-chart-img" not in page.content.decode()
    assert client.get(reverse(EXPORT)).status_code == 503
    assert "marketing view unavailable" in caplog.text
