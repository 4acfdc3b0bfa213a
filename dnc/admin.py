"""Admin for the DNC lists: the internal list (record, look up, remove with a reason),
registry loads, registry freshness, and scrubbing an uploaded list.

Numbers are shown masked; the internal list is scoped to the user's programs
unless the user may see every program's entries (compliance). The internal
list's page is registered by `dialer.admin.dnc_requests`: recording a request
also cancels the pending calls to the number, an act only `dialer` can do.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.actors import actor_for_user
from audit.services import audit_record
from common.admin import ReadOnlyAdmin
from common.crypto import keyed_hash
from common.phones import mask
from common.scoping import sees_all, user_program_ids
from dnc.keys import e164_from_key, key_from_text
from dnc.models import (
    ALL_AREA_CODES,
    REGISTRY_MAX_AGE_DAYS,
    InternalDncEntry,
    RegistryCoverage,
    RegistryLoad,
    RemovalReason,
)
from dnc.selectors import dnc_status_many, registry_as_of_many
from dnc.services import internal_dnc_remove

SCRUB_MAX_BYTES = 20 << 20
SCRUB_PERMISSION = "dnc.scrub_internaldncentry"
ENTRY_FIELDS: tuple[str, ...] = (
    "masked",
    "source",
    "note",
    "program_id",
    "added_at",
    "added_by",
    "keep_until",
    "removed_at",
    "removed_by",
    "removal_reason",
    "removal_note",
)


class ActiveFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Active"), ("no", "Removed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(removed_at__isnull=False)
        return queryset


class RemovalForm(forms.Form):
    reason = forms.ChoiceField(choices=RemovalReason.choices)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Required for Other."
    )


class ScrubForm(forms.Form):
    file = forms.FileField(
        help_text="CSV or text, one number a line (the first column that is one)."
    )


class InternalDncEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "__str__",
        "masked",
        "source",
        "program_id",
        "added_at",
        "active_now",
        "removed_at",
    ]
    list_filter = [ActiveFilter, "source", "removal_reason"]
    search_fields = ["number_hash"]  # searched by the number, through its hash (below)
    search_help_text = "Search by phone number (any format)."
    fields = ENTRY_FIELDS
    readonly_fields = ENTRY_FIELDS
    actions = None

    @admin.display(description="Number")
    def masked(self, obj: InternalDncEntry) -> str:
        return mask(obj.number)

    @admin.display(description="Active", boolean=True)
    def active_now(self, obj: InternalDncEntry) -> bool:
        return obj.active

    @admin.display(description="Keep until")
    def keep_until(self, obj: InternalDncEntry) -> date | None:
        return obj.keep_until

    def get_queryset(self, request: HttpRequest) -> QuerySet[InternalDncEntry]:
        queryset = super().get_queryset(request)
        if sees_all(request.user) or request.user.has_perm("dnc.viewall_internaldncentry"):
            return queryset
        return queryset.filter(program_id__in=user_program_ids(request.user))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[InternalDncEntry], search_term: str
    ) -> tuple[QuerySet[InternalDncEntry], bool]:
        if not search_term.strip():
            return queryset, False
        key = key_from_text(search_term)
        if key is None:
            return queryset.none(), False
        return queryset.filter(number_hash=keyed_hash(e164_from_key(key))), False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an entry changes only by its removal (the Remove page)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # never deleted (the database refuses too)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("scrub/", wrap(self.scrub_view), name="dnc_scrub"),
            path("<int:entry_id>/remove/", wrap(self.remove_view), name="dnc_internal_remove"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        extra["can_remove"] = request.user.has_perm("dnc.remove_internaldncentry")
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        extra["can_scrub"] = request.user.has_perm(SCRUB_PERMISSION)
        return super().changelist_view(request, extra)

    def remove_view(self, request: HttpRequest, entry_id: int) -> HttpResponse:
        if not request.user.has_perm("dnc.remove_internaldncentry"):
            raise PermissionDenied
        entry = self.get_queryset(request).filter(pk=entry_id).first()
        if entry is None:
            return HttpResponseRedirect(reverse("admin:dnc_internaldncentry_changelist"))
        form = RemovalForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                internal_dnc_remove(
                    entry_id=entry.pk,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    actor=actor_for_user(request.user),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, f"{entry} removed; the record is kept.")
                return HttpResponseRedirect(
                    reverse("admin:dnc_internaldncentry_change", args=[entry.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Remove {entry} from the internal list",
            "entry": entry,
            "masked": mask(entry.number),
            "form": form,
        }
        return TemplateResponse(request, "admin/dnc/internaldncentry/remove.html", context)

    def scrub_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a list; download it back with, for each of its numbers, the lists that hold it."""
        if not request.user.has_perm(SCRUB_PERMISSION):
            raise PermissionDenied
        form = ScrubForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > SCRUB_MAX_BYTES:
                form.add_error("file", f"At most {SCRUB_MAX_BYTES >> 20} MB.")
            else:
                return scrub_response(request, upload.read())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Scrub a list of numbers",
            "form": form,
            "max_age": REGISTRY_MAX_AGE_DAYS,
        }
        return TemplateResponse(request, "admin/dnc/scrub.html", context)


def scrub_response(request: HttpRequest, content: bytes) -> HttpResponse:
    """The uploaded numbers, in order, each with its verdict; nothing that was not uploaded."""
    rows: list[tuple[int, int | None]] = []
    for line_number, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), 1):
        text = line.strip().lstrip("\ufeff")
        if not text or not any(char.isdigit() for char in text):
            continue  # blank or a header
        key = key_from_text(text)
        if key is None:
            key = next((k for f in text.split(",") if (k := key_from_text(f)) is not None), None)
        rows.append((line_number, key))
    numbers = [e164_from_key(key) for _, key in rows if key is not None]
    statuses = dnc_status_many(numbers=numbers)
    as_of = registry_as_of_many(numbers=numbers)
    today = timezone.now().date()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "internal", "national", "states", "note"])
    listed = 0
    for line_number, key in rows:
        if key is None:  # named by its line, not echoed: it may hold anything
            writer.writerow(["", "", "", "", f"line {line_number}: not a valid US number"])
            continue
        e164 = e164_from_key(key)
        status = statuses[e164]
        listed += status.internal or status.national or bool(status.states)
        writer.writerow(
            [
                e164,
                "yes" if status.internal else "no",
                "yes" if status.national else "no",
                " ".join(sorted(status.states)),
                _freshness_note(as_of[e164].national, today),
            ]
        )
    audit_record(
        actor=actor_for_user(request.user),
        action="dnc.list_scrubbed",
        object_type="dnc_scrub",
        data={"lines": len(rows), "numbers": len(numbers), "listed": listed},
    )
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="dnc-scrub.csv"'
    return response


def _freshness_note(as_of: date | None, today: date) -> str:
    if as_of is None:
        return "no national registry copy for this area code"
    if today - as_of > timedelta(days=REGISTRY_MAX_AGE_DAYS):
        return f"national copy as of {as_of} is older than {REGISTRY_MAX_AGE_DAYS} days"
    return ""


@admin.register(RegistryLoad)
class RegistryLoadAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "source",
        "kind",
        "as_of",
        "area_code_count",
        "rows_added",
        "rows_deleted",
        "lines_skipped",
        "generation",
        "finished_at",
        "loaded_by",
    ]
    list_filter = ["source", "kind"]
    readonly_fields = [
        "source",
        "kind",
        "as_of",
        "area_codes",
        "files",
        "rows_added",
        "rows_deleted",
        "lines_skipped",
        "generation",
        "started_at",
        "finished_at",
        "loaded_by",
    ]
    fields = tuple(readonly_fields)
    actions = None

    @admin.display(description="Area codes")
    def area_code_count(self, obj: RegistryLoad) -> str:
        return "all" if obj.area_codes == [ALL_AREA_CODES] else str(len(obj.area_codes))


@admin.register(RegistryCoverage)
class RegistryCoverageAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Freshness per source and area code; the copies that expire first come first."""

    list_display = ["source", "area", "as_of", "age_days", "expires_on", "state", "load_link"]
    list_filter = ["source"]
    ordering = ["as_of", "source", "area_code"]
    actions = None
    list_per_page = 200

    @admin.display(description="Area code", ordering="area_code")
    def area(self, obj: RegistryCoverage) -> str:
        return "all" if obj.area_code == ALL_AREA_CODES else str(obj.area_code)

    @admin.display(description="Age (days)")
    def age_days(self, obj: RegistryCoverage) -> int:
        return (timezone.now().date() - obj.as_of).days

    @admin.display(description="Usable through")
    def expires_on(self, obj: RegistryCoverage) -> date:
        return obj.expires_on

    @admin.display(description="Status")
    def state(self, obj: RegistryCoverage) -> str:
        left = (obj.expires_on - timezone.now().date()).days
        if left < 0:
            return "expired: solicitation calls blocked"
        return f"fresh, {left} day{'s' if left != 1 else ''} left"

    @admin.display(description="Rows from")
    def load_link(self, obj: RegistryCoverage) -> str:
        url = reverse("admin:dnc_registryload_change", args=[obj.load_id])
        return format_html('<a href="{}">load #{}</a>', url, obj.load_id)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        today = timezone.now().date()
        first = RegistryCoverage.objects.order_by("as_of", "source", "area_code").first()
        soon = RegistryCoverage.objects.filter(
            as_of__lte=today - timedelta(days=REGISTRY_MAX_AGE_DAYS - 7)
        ).count()
        extra = dict(extra_context or {})
        extra.update(
            next_expiring=first,
            next_expiring_left=(first.expires_on - today).days if first else None,
            expiring_within_week=soon,
            max_age=REGISTRY_MAX_AGE_DAYS,
            can_scrub=request.user.has_perm(SCRUB_PERMISSION),
        )
        if first is not None and first.expires_on < today:
            messages.warning(
                request, "Some registry copies are expired: solicitation calls to them are blocked."
            )
        return super().changelist_view(request, extra)
