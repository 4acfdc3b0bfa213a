"""Disclosures (compliance: the accounting of disclosures) and alumni imports in the admin,
scoped to the user's programs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from campaigns.models import Purpose
from common.scoping import ProgramScopedAdmin
from consent.models import AlumniImport, Disclosure
from dialer.acts.alumni_import import AlumniImportReport, alumni_import_submit
from dialer.admin.consent_forms import AlumniImportForm
from dialer.admin.requests import actor_of
from dialer.admin.uploads import ImportAdmin


@admin.register(Disclosure)
class DisclosureAdmin(ProgramScopedAdmin):
    """Every disclosure, per patient: filter by contact (the contact page links here)."""

    program_path = "contact__program"
    list_display = [
        "disclosed_at",
        "contact",
        "recipient",
        "purpose",
        "description",
        "consent",
        "disclosed_by",
        "notice",
    ]
    list_filter = ["program"]
    search_fields = ["contact__external_id"]
    date_hierarchy = "disclosed_at"
    list_select_related = ["contact", "consent"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Disclosure._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded by the export that makes the disclosure

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlumniImport)
class AlumniImportAdmin(ImportAdmin):
    """Upload an alumni list into a reactivation queue; read the report per row."""

    queue_purpose = Purpose.REACTIVATION
    form = AlumniImportForm
    list_display = ["__str__", "queue", "status", "rows_total", "rows_done", "queued", "created_at"]
    list_filter = ["status", "queue__program"]
    list_select_related = ["queue__program"]
    view_fields = [
        "queue",
        "status",
        "rows_total",
        "rows_done",
        "requested_by",
        "created_at",
        "finished_at",
        "summary",
        "report_table",
    ]

    def save_model(self, request: HttpRequest, obj: AlumniImport, form: Any, change: bool) -> None:
        run, report = alumni_import_submit(
            queue=form.cleaned_data["queue"],
            data=form.cleaned_data["file"],
            actor=actor_of(request),
        )
        if run is None:  # the form checked the file already; only a race gets here
            raise ValidationError([f"Row {e.row}, {e.field}: {e.message}" for e in report.errors])
        obj.pk = run.pk
        obj._state.adding = False
        if run.status == "queued":
            self.message_user(
                request,
                f"{run}: {run.rows_total} rows queued for a worker; refresh for the report.",
                messages.INFO,
            )
        else:
            s = report.summary()
            self.message_user(
                request,
                f"{run}: {s['queued']} queued, {s['not_queued']} not queued, "
                f"{s['already_queued']} already queued.",
                messages.SUCCESS,
            )

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:consent_alumniimport_change", args=[obj.pk]))

    @admin.display(description="Queued")
    def queued(self, obj: AlumniImport) -> int:
        return int((obj.report or {}).get("summary", {}).get("queued", 0))

    @admin.display(description="Summary")
    def summary(self, obj: AlumniImport) -> str:
        s = (obj.report or {}).get("summary") or {}
        if not s:
            return "-"
        reasons = ", ".join(f"{code}: {n}" for code, n in sorted(s.get("reasons", {}).items()))
        return (
            f"{s.get('queued', 0)} queued, {s.get('not_queued', 0)} not queued, "
            f"{s.get('already_queued', 0)} already queued, "
            f"{s.get('contacts_created', 0)} contacts created"
            + (f" (not queued because {reasons})" if reasons else "")
        )

    @admin.display(description="Per row")
    def report_table(self, obj: AlumniImport) -> SafeString:
        report = AlumniImportReport.from_dict(obj.report or {}, queue_id=obj.queue_id)
        errors = format_html_join(
            "",
            '<tr class="errornote"><td>{}</td><td></td><td>error</td><td>{}: {}</td></tr>',
            ((e.row, e.field, e.message) for e in report.errors),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (o.row, o.external_id, o.status.replace("_", " "), _row_detail(o.codes, o.detail))
                for o in report.rows
            ),
        )
        return format_html(
            "<table><tr><th>Row</th><th>External id</th><th>Result</th><th>Why</th></tr>"
            "{}{}</table>",
            errors,
            rows,
        )


def _row_detail(codes: tuple[str, ...], detail: str) -> str:
    return f"{', '.join(codes)}: {detail}" if codes else detail
