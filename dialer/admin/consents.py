"""Consents, disclosures and alumni imports in the admin, scoped to the user's programs.

Intake staff record any consent in one form, see a contact's consents (and
what each allows) on the contact page, and revoke with a reason. Compliance
exports a patient's consents (with the 42 CFR 2.32 notice, recorded as a
disclosure) and lists disclosures per patient. Managers upload alumni lists.
Consents are never edited or deleted here; revocation is their only change.

These pages live in the dialer because two of their acts span apps: a
revocation cancels pending calls, an alumni import creates call tasks
(dialer services); the consent app itself never imports upward (DESIGN.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from campaigns.models import Contact, Queue
from common.admin import ReadOnlyAdmin, form_errors_add
from common.phones import mask
from common.scoping import ProgramScopedAdmin
from consent.disclosures import consents_export_csv
from consent.models import Consent, ConsentSource, Disclosure
from consent.selectors import consent_allows, consent_covering, consent_state
from consent.services import PART2_NOTICE, consent_create
from dialer.acts.revocation import consent_revoke_and_cancel
from dialer.admin.consent_forms import ConsentForm, ExportForm, RevokeForm
from dialer.admin.requests import actor_of, missing

_STATE_LABELS = {
    "active": "active",
    "revoked": "revoked",
    "expired": "expired",
    "not_yet": "not yet in effect",
}


@admin.register(Consent)
class ConsentAdmin(ProgramScopedAdmin):
    program_path = "contact__program"
    form = ConsentForm
    change_form_template = "admin/consent/consent/change_form.html"
    list_display = [
        "__str__",
        "contact",
        "kind",
        "purposes_display",
        "signed_at",
        "state",
        "allows",
    ]
    list_filter = ["kind", "method", ("revoked_at", admin.EmptyFieldListFilter), "contact__program"]
    search_fields = ["contact__external_id"]  # names and numbers are encrypted
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]
    add_fieldsets: list[tuple[str | None, dict[str, Any]]] = [
        (None, {"fields": ["contact", "kind", "method", "signed_at", "signature"]}),
        ("What it covers", {"fields": ["number", "purposes", "other_purposes"]}),
        ("Expiration", {"fields": ["expires_at", "expiration_event", "expires_never"]}),
        (
            "42 CFR Part 2: every element is required for a Part 2 consent",
            {
                "fields": [
                    "discloser",
                    "description",
                    "recipient_programs",
                    "outside_recipients",
                    "revocation_notice_given",
                ]
            },
        ),
        ("Recording", {"fields": ["attempt_id"]}),
    ]
    view_fieldsets: list[tuple[str | None, dict[str, Any]]] = [
        (
            None,
            {
                "fields": [
                    "contact",
                    "kind",
                    "method",
                    "signed_at",
                    "signed",
                    "number_masked",
                    "purposes_display",
                    "other_purposes_display",
                    "expiration",
                    "attempt_id",
                ]
            },
        ),
        (
            "42 CFR Part 2",
            {
                "fields": [
                    "discloser",
                    "description",
                    "recipients_display",
                    "revocation_notice_given",
                ]
            },
        ),
        ("What it allows", {"fields": ["state", "allows", "coverage"]}),
        (
            "Revocation",
            {
                "fields": [
                    "revoked_at",
                    "revocation_channel",
                    "revocation_channel_label",
                    "revocation_reason",
                    "revoked_by",
                ]
            },
        ),
        ("Record", {"fields": ["source", "recorded_by", "created_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("recipient_programs")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.view_fieldsets if obj is not None else self.add_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [f for _, opts in self.view_fieldsets for f in opts["fields"]]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a consent is a record of what the person gave; only revocation changes it

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # never deleted, revoked or not

    def save_model(self, request: HttpRequest, obj: Consent, form: Any, change: bool) -> None:
        created = consent_create(
            data=form.service_inputs(),
            actor=actor_of(request),
            source=ConsentSource.ADMIN,
        )
        obj.pk, obj.kind = created.pk, created.kind
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # the service stored the recipients

    # --- displays ---

    @admin.display(description="Signed")
    def signed(self, obj: Consent) -> str:
        return "yes" if obj.signature else "no"

    @admin.display(description="Number")
    def number_masked(self, obj: Consent) -> str:
        return mask(obj.number or "") or "-"

    @admin.display(description="Purposes")
    def purposes_display(self, obj: Consent) -> str:
        return ", ".join(obj.purposes) or "-"

    @admin.display(description="Other purposes")
    def other_purposes_display(self, obj: Consent) -> str:
        return "; ".join(obj.other_purpose_list) or "-"

    @admin.display(description="Expiration")
    def expiration(self, obj: Consent) -> str:
        if obj.expires_at:
            return f"{obj.expires_at:%Y-%m-%d %H:%M} UTC"
        if obj.expiration_event:
            return f"on: {obj.expiration_event}"
        return "none (stated)" if obj.expires_never else "none"

    @admin.display(description="Recipients")
    def recipients_display(self, obj: Consent) -> str:
        names = [p.slug for p in obj.recipient_programs.all()] + obj.outside_recipient_list
        return "; ".join(names) or "-"

    @admin.display(description="State")
    def state(self, obj: Consent) -> str:
        return _STATE_LABELS[consent_state(obj)]

    @admin.display(description="What it allows")
    def allows(self, obj: Consent) -> str:
        return consent_allows(obj)

    @admin.display(description="This contact's consents now, per queue and number")
    def coverage(self, obj: Consent) -> SafeString:
        contact = obj.contact
        queues = Queue.objects.filter(program_id=contact.program_id).select_related("program")
        rows = []
        now = timezone.now()
        for phone in contact.phones.all():
            for queue in queues:
                answer = consent_covering(
                    contact=contact,
                    number_e164=phone.number,
                    program=queue.program,
                    purpose=queue.purpose,
                    at=now,
                )
                rows.append((str(queue), mask(phone.number), str(answer)))
        if not rows:
            return format_html("{}", "-")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th>Queue</th><th>Number</th><th></th></tr>{}</table>", body)

    # --- revoke and export ---

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="consent_consent_revoke",
            ),
            path(
                "export/<int:contact_id>/",
                self.admin_site.admin_view(self.export_view),
                name="consent_consent_export",
            ),
        ]
        return own + super().get_urls()

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["can_revoke"] = (
            obj is not None
            and obj.revoked_at is None
            and request.user.has_perm("consent.revoke_consent")
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("consent.revoke_consent"):
            raise PermissionDenied
        consent = self.get_object(request, unquote(object_id))
        if consent is None:
            return missing(request)
        change_url = reverse("admin:consent_consent_change", args=[consent.pk])
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = consent_revoke_and_cancel(
                    consent_id=consent.pk,
                    channel=form.cleaned_data["channel"],
                    revoked_at=form.cleaned_data["revoked_at"],
                    reason=form.cleaned_data["reason"],
                    actor=actor_of(request),
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                count = len(result.cancelled_task_ids)
                calls = "1 pending call" if count == 1 else f"{count} pending calls"
                self.message_user(
                    request,
                    f"{consent} revoked; {calls} cancelled.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
        return self._page(
            request,
            "admin/consent/consent/revoke.html",
            f"Revoke {consent}",
            form,
            obj=consent,
            allows=consent_allows(consent),
            cancel_url=change_url,
        )

    def export_view(self, request: HttpRequest, contact_id: int) -> HttpResponse:
        if not request.user.has_perm("consent.export_consent"):
            raise PermissionDenied
        contact = (
            self.scope(Contact.objects.all(), request, "program").filter(pk=contact_id).first()
        )
        if contact is None:
            return missing(request)
        form = ExportForm(request.POST or None, contact=contact)
        if request.method == "POST" and form.is_valid():
            try:
                text = consents_export_csv(
                    contact=contact,
                    recipient=form.cleaned_data["recipient"],
                    purpose=form.cleaned_data["purpose"],
                    consent=form.cleaned_data["consent"],
                    actor=actor_of(request),
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                response = HttpResponse(text, content_type="text/csv; charset=utf-8")
                # The file name carries an id only: no name in a URL, a header or a download list.
                response["Content-Disposition"] = (
                    f'attachment; filename="consents-contact-{contact.pk}.csv"'
                )
                return response
        return self._page(
            request,
            "admin/consent/consent/export.html",
            f"Export the consents of {contact} (a Part 2 disclosure)",
            form,
            obj=contact,
            notice=PART2_NOTICE,
            cancel_url=reverse("admin:campaigns_contact_change", args=[contact.pk]),
        )

    def _page(
        self, request: HttpRequest, template: str, title: str, form: Any, **extra: Any
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            **extra,
        }
        return TemplateResponse(request, template, context)


class ConsentInline(admin.TabularInline):  # type: ignore[type-arg]
    """A contact's consents on the contact page, with what each allows."""

    model = Consent
    template = "admin/consent/consent/inline.html"
    fields = readonly_fields = ("kind", "purposes_display", "signed_at", "state", "allows")
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-signed_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("recipient_programs")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # recorded through the consent form (linked above the table)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Purposes")
    def purposes_display(self, obj: Consent) -> str:
        return ", ".join(obj.purposes) or "-"

    @admin.display(description="State")
    def state(self, obj: Consent) -> str:
        return _STATE_LABELS[consent_state(obj)]

    @admin.display(description="What it allows")
    def allows(self, obj: Consent) -> str:
        return consent_allows(obj)


class DisclosureInline(ReadOnlyAdmin, admin.TabularInline):  # type: ignore[type-arg]
    """The patient's accounting of disclosures (compliance officers)."""

    model = Disclosure
    fields = readonly_fields = (
        "disclosed_at",
        "recipient",
        "purpose",
        "description",
        "consent",
        "disclosed_by",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = "Part 2 disclosures (accounting, 42 CFR 2.25)"


# The contact page shows its consents and (for compliance) its disclosures.
_contact_admin = admin.site._registry.get(Contact)
if _contact_admin is not None:
    # An instance attribute, so that campaigns' ContactAdmin class stays as its app wrote it.
    _contact_admin.inlines = [  # type: ignore[misc]
        *[i for i in _contact_admin.inlines if i not in (ConsentInline, DisclosureInline)],
        ConsentInline,
        DisclosureInline,
    ]
