"""The internal DNC list's page, with its "Record a request" form.

Recording a request also cancels every pending call to the number, which only
`dialer` can do (it owns the tasks): so this page is registered here, over the
dnc app's own admin class, as consents' pages are (`dialer.admin.consents`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.actors import actor_for_user
from common.phones import InvalidPhoneNumber
from dialer.acts.optout import dnc_request_record
from dnc import admin as dnc_admin
from dnc.models import InternalDncEntry


class RequestForm(forms.Form):
    number = forms.CharField(max_length=40, help_text="Any common US format.")
    program = forms.TypedChoiceField(coerce=int, label="Taken by program")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, programs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = programs


@admin.register(InternalDncEntry)
class InternalDncEntryAdmin(dnc_admin.InternalDncEntryAdmin):
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Record a request: the entry, and every pending call to the number cancelled."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        programs = list(request.user.programs.order_by("slug").values_list("id", "slug"))  # type: ignore[union-attr]
        form = RequestForm(request.POST or None, programs=programs)
        if request.method == "POST" and form.is_valid():
            try:
                entry = dnc_request_record(
                    number=form.cleaned_data["number"],
                    source="admin",
                    note=form.cleaned_data["note"],
                    actor=actor_for_user(request.user),
                    program_id=form.cleaned_data["program"],
                )
            except InvalidPhoneNumber as exc:
                form.add_error("number", str(exc))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request, f"{entry} recorded; pending calls to the number cancelled."
                )
                return HttpResponseRedirect(
                    reverse("admin:dnc_internaldncentry_change", args=[entry.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Record a do-not-call request",
            "form": form,
            "no_programs": not programs,
        }
        return TemplateResponse(request, "admin/dnc/internaldncentry/record.html", context)
