"""Admin for programs, queues, scripts and contacts, scoped to the user's programs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from audit.actors import actor_for_user
from audit.services import audit_record, audit_record_many
from campaigns.forms import (
    ContactForm,
    PatientStatusLowerForm,
    PhoneNumberForm,
    ProgramForm,
    QueueForm,
)
from campaigns.models import Contact, PhoneNumber, Program, Queue, Script
from campaigns.services import contact_patient_status_lower, script_mark_promotional, script_publish
from common.phones import mask
from common.scoping import ProgramScopedAdmin


@admin.register(Program)
class ProgramAdmin(ProgramScopedAdmin):
    program_path = ""
    form = ProgramForm
    list_display = ["slug", "legal_name", "state", "timezone", "active"]
    list_filter = ["state", "active"]
    search_fields = ["slug", "legal_name"]
    filter_horizontal = ["members"]

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=actor_for_user(request.user),
                action="program.changed" if change else "program.created",
                object_type="program",
                object_id=obj.pk,
                program_id=obj.pk,
                data={"fields": sorted(form.changed_data)},
            )


class ScriptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Script
    fields = ("version", "recording_disclosure", "body", "used", "promotional", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Queue)
class QueueAdmin(ProgramScopedAdmin):
    form = QueueForm
    list_display = ["__str__", "name", "purpose", "window_start", "window_end", "active"]
    list_filter = ["purpose", "active", "program"]
    search_fields = ["slug", "name"]
    readonly_fields = ["consent_basis", "current_script", "paused_reason"]
    inlines = [ScriptInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # As in the API: a queue's program and purpose are fixed once it exists
        # (its tasks, consent basis and caps were decided under them).
        fixed = ["program", "purpose"] if obj is not None else []
        return [*fixed, *super().get_readonly_fields(request, obj)]

    @admin.display(description="Consent basis (from the purpose)")
    def consent_basis(self, obj: Queue) -> str:
        return obj.consent_basis if obj.purpose else "-"

    def save_model(self, request: HttpRequest, obj: Queue, form: Any, change: bool) -> None:
        actor = actor_for_user(request.user)
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            text = (form.cleaned_data.get("new_script") or "").strip()
            if text:
                script_publish(queue=obj, body=text, actor=actor)
            audit_record(
                actor=actor,
                action="queue.changed" if change else "queue.created",
                object_type="queue",
                object_id=obj.pk,
                program_id=obj.program_id,
                data={"fields": sorted(form.changed_data)},
            )


@admin.register(Script)
class ScriptAdmin(ProgramScopedAdmin):
    program_path = "queue__program"
    list_display = ["__str__", "version", "used", "promotional", "created_at"]
    list_filter = ["used", "promotional", "queue__program"]
    readonly_fields = [
        "queue",
        "version",
        "recording_disclosure",
        "body",
        "used",
        "promotional",
        "created_at",
    ]
    actions = ["mark_promotional", "mark_not_promotional"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        # Managers publish scripts, so they judge them (a reminder script must be about
        # the appointment only: the healthcare exemption's condition).
        return bool(request.user.has_perm("campaigns.add_script"))

    @admin.action(
        description="Mark promotional (reminders on it are refused)", permissions=["review"]
    )
    def mark_promotional(self, request: HttpRequest, queryset: Any) -> None:
        for script in queryset.select_related("queue"):
            script_mark_promotional(
                script=script, promotional=True, actor=actor_for_user(request.user)
            )

    @admin.action(description="Mark not promotional", permissions=["review"])
    def mark_not_promotional(self, request: HttpRequest, queryset: Any) -> None:
        for script in queryset.select_related("queue"):
            script_mark_promotional(
                script=script, promotional=False, actor=actor_for_user(request.user)
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions are published from the queue page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PhoneInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PhoneNumber
    form = PhoneNumberForm
    extra = 1
    can_delete = False


class IdentifiersViewedAdmin(ProgramScopedAdmin):
    """A page that shows a person's names, numbers or CRM id: every display is recorded
    in the audit trail (who, when, which object), as `identifiers_viewed` describes it."""

    def identifiers_viewed(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            audit_record(actor=actor_for_user(request.user), **self.identifiers_viewed(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Contact)
class ContactAdmin(IdentifiersViewedAdmin):
    form = ContactForm
    list_display = ["__str__", "external_id", "program", "patient_status", "state", "created_at"]
    list_filter = ["patient_status", "program", "state"]
    search_fields = ["external_id"]  # names and numbers are encrypted: search by the CRM id
    inlines = [PhoneInline]
    fields = [
        "program",
        "external_id",
        "first_name",
        "last_name",
        "state",
        "postal_code",
        "patient_status",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/lower-status/",
                self.admin_site.admin_view(self.lower_status_view),
                name="campaigns_contact_lower_status",
            )
        ]
        return own + super().get_urls()

    def lower_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Lower the patient status, with a reason: compliance officers only, audited."""
        if not request.user.has_perm("campaigns.lower_status_contact"):
            raise PermissionDenied
        contact = self.get_object(request, unquote(object_id))
        if contact is None:
            raise PermissionDenied
        change_url = reverse("admin:campaigns_contact_change", args=[contact.pk])
        form = PatientStatusLowerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                contact_patient_status_lower(
                    contact_id=contact.pk,
                    patient_status=form.cleaned_data["patient_status"],
                    reason=form.cleaned_data["reason"],
                    actor=actor_for_user(request.user),
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                self.message_user(request, f"{contact}: patient status lowered.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Lower the patient status of {contact}",
            "form": form,
            "original": contact,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/campaigns/contact/lower_status.html", context)

    def identifiers_viewed(self, obj: Contact) -> dict[str, Any]:
        return {
            "action": "contact.identifiers_viewed",
            "object_type": "contact",
            "object_id": obj.pk,
            "program_id": obj.program_id,
            "data": {"phones": sorted(obj.phones.values_list("pk", flat=True))},
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        listed = changelist.get("cl")
        if listed is not None:
            # The list shows CRM ids: record which contacts were on the page, per program.
            per_program: dict[int, list[int]] = {}
            for contact in listed.result_list:
                per_program.setdefault(contact.program_id, []).append(contact.pk)
            audit_record_many(
                [
                    {
                        "actor": actor_for_user(request.user),
                        "action": "contact.list_viewed",
                        "object_type": "contact",
                        "program_id": program_id,
                        "data": {"contacts": ids},
                    }
                    for program_id, ids in sorted(per_program.items())
                ]
            )
        return response

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=actor_for_user(request.user),
                action="contact.changed" if change else "contact.created",
                object_type="contact",
                object_id=obj.pk,
                program_id=obj.program_id,
                data={"fields": sorted(form.changed_data)},
            )


@admin.register(PhoneNumber)
class PhoneNumberAdmin(IdentifiersViewedAdmin):
    program_path = "contact__program"
    list_display = ["__str__", "masked", "line_type", "provided_by_patient", "contact"]
    list_filter = ["line_type", "provided_by_patient"]
    form = PhoneNumberForm
    fields = ["contact", "number", "line_type", "provided_by_patient"]

    @admin.display(description="Number")
    def masked(self, obj: PhoneNumber) -> str:
        return mask(obj.number)

    def identifiers_viewed(self, obj: PhoneNumber) -> dict[str, Any]:
        return {
            "action": "phone.identifiers_viewed",
            "object_type": "phone_number",
            "object_id": obj.pk,
            "program_id": obj.contact.program_id,
            "data": {"contact": obj.contact_id},
        }

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
