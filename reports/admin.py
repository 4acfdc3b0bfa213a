"""The marketing dashboard in the admin: numbers and charts from the marketing view only.

Registered on the unmanaged MarketingCall model, so that the admin's own
permission (`reports.view_marketingcall`, given to marketing analysts and
campaign managers) decides who sees it; the numbers are scoped to the user's
programs and read through the `marketing` role. There is no list of calls and
no object page: only aggregates, charts and their CSV.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from audit.actors import actor_for_user
from campaigns.models import Program
from common.admin import ReadOnlyAdmin
from common.scoping import sees_all, user_program_ids
from reports.charts import dashboard_charts
from reports.forms import DashboardFilterForm
from reports.models import MarketingCall
from reports.selectors import DIMENSIONS, Dashboard, Metrics, marketing_dashboard
from reports.services import marketing_export_record

log = logging.getLogger(__name__)

TITLES = {
    "program": "By program",
    "queue": "By queue",
    "source": "By lead source",
    "hour": "By hour of day (program's local time)",
    "week": "By week",
}
CSV_HEADER = [
    "dimension",
    "key",
    "attempts",
    "connects",
    "connect_rate",
    "answered",
    "abandoned",
    "abandonment_rate",
    "first_attempts",
    "median_seconds_to_first_attempt",
]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _cells(key: str, m: Metrics) -> list[str]:
    return [
        key,
        str(m.attempts),
        str(m.connects),
        _rate(m.connect_rate),
        _minutes(m.median_seconds_to_first_attempt),
        str(m.answered),
        str(m.abandoned),
        _rate(m.abandonment_rate),
    ]


def _csv_safe(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts with one of these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(MarketingCall)
class MarketingDashboardAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    template = "admin/reports/marketingcall/dashboard.html"

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.dashboard_view), name="{}_{}_changelist".format(*info)),
            path("export.csv", wrap(self.export_view), name="{}_{}_export".format(*info)),
        ]

    # --- scope and filters --------------------------------------------------------------

    def _filters(self, request: HttpRequest) -> tuple[DashboardFilterForm, set[int] | None]:
        """The filter form and the program ids it allows (None: every program, operators only)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        programs = Program.objects.order_by("slug")
        everything = sees_all(request.user)
        if not everything:
            programs = programs.filter(id__in=user_program_ids(request.user))
        choices = list(programs.values_list("id", "slug"))
        # Always bound: an empty query means the defaults (all my programs, twelve weeks).
        form = DashboardFilterForm(request.GET.dict(), programs=choices, today=timezone.localdate())
        scope: set[int] | None = None if everything else {pk for pk, _ in choices}
        if form.is_valid() and form.selected_program() is not None:
            scope = {form.selected_program()}  # type: ignore[arg-type]  # a valid choice
        return form, scope

    # --- views --------------------------------------------------------------------------

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        form, scope = self._filters(request)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Marketing dashboard",
            "opts": self.opts,
            "form": form,
            "no_programs": scope is not None and not scope,
        }
        status = 200
        if form.is_valid():
            try:
                dashboard = marketing_dashboard(
                    program_ids=scope,
                    since=form.cleaned_data["since"],
                    until=form.cleaned_data["until"],
                )
            except DatabaseError as exc:
                # Never fall back to a connection that can read identifiers.
                log.warning("marketing view unavailable (%s)", type(exc).__name__)
                context["unavailable"] = True
                status = 503
            else:
                context.update(self._dashboard_context(dashboard, request))
        else:
            status = 400
        return TemplateResponse(request, self.template, context, status=status)

    def _dashboard_context(self, dashboard: Dashboard, request: HttpRequest) -> dict[str, Any]:
        total = dashboard.total
        return {
            "dashboard": dashboard,
            "kpis": [
                ("Attempts", str(total.attempts)),
                ("Connects", str(total.connects)),
                ("Connect rate", _rate(total.connect_rate)),
                (
                    "Speed to first attempt (median)",
                    _minutes(total.median_seconds_to_first_attempt),
                ),
                ("Abandonment rate", _rate(total.abandonment_rate)),
            ],
            "charts": dashboard_charts(dashboard),
            "tables": [
                {
                    "title": TITLES[name],
                    "rows": [
                        _cells(row.key, row.metrics)
                        for row in dashboard.by[name]
                        if row.metrics.attempts or name not in ("hour",)
                    ],
                }
                for name in DIMENSIONS
            ],
            "export_query": request.GET.urlencode(),
        }

    def export_view(self, request: HttpRequest) -> HttpResponse:
        form, scope = self._filters(request)
        if not form.is_valid():
            return HttpResponse("Invalid filters.", status=400, content_type="text/plain")
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        try:
            dashboard = marketing_dashboard(program_ids=scope, since=since, until=until)
        except DatabaseError as exc:
            log.warning("marketing view unavailable (%s)", type(exc).__name__)
            return HttpResponse(
                "Marketing reports are unavailable.", status=503, content_type="text/plain"
            )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        rows = [("total", "all", dashboard.total)] + [
            (name, row.key, row.metrics) for name in DIMENSIONS for row in dashboard.by[name]
        ]
        for dimension, key, m in rows:
            writer.writerow(
                [
                    _csv_safe(dimension),
                    _csv_safe(key),
                    m.attempts,
                    m.connects,
                    "" if m.connect_rate is None else f"{m.connect_rate:.4f}",
                    m.answered,
                    m.abandoned,
                    "" if m.abandonment_rate is None else f"{m.abandonment_rate:.4f}",
                    m.first_attempts,
                    ""
                    if m.median_seconds_to_first_attempt is None
                    else f"{m.median_seconds_to_first_attempt:.0f}",
                ]
            )
        marketing_export_record(
            actor=actor_for_user(request.user),
            kind="dashboard_csv",
            program_ids=scope,
            since=since,
            until=until,
            rows=len(rows),
        )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="marketing-{since.isoformat()}-{until.isoformat()}.csv"'
        )
        return response
