"""The "My calls" page in the admin: take the next call, read the script, dial, log the outcome.

The call in hand is decided again on every look until it is dialled, and at
"Dial": the number appears only after that fresh, allowed decision.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.actors import actor_for_user
from common.admin import ReadOnlyAdmin
from common.scoping import ProgramScopedAdmin
from dialer.acts.outcomes import OutcomeError, attempt_outcome_record
from dialer.models import MyCall, Outcome
from dialer.runtime.preview import (
    InHand,
    current_call,
    preview_dial,
    preview_in_hand,
    preview_take_next,
)

STAFF_OUTCOMES = [
    (Outcome.CONNECTED, "Connected"),
    (Outcome.NO_ANSWER, "No answer"),
    (Outcome.VOICEMAIL, "Voicemail"),
    (Outcome.BUSY, "Busy"),
    (Outcome.WRONG_NUMBER, "Wrong number"),
    (Outcome.DNC_REQUESTED, "Asked not to be called"),
]


class OutcomeForm(forms.Form):
    attempt = forms.IntegerField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(choices=STAFF_OUTCOMES)
    recording_consent = forms.TypedChoiceField(
        choices=[("", "Not asked"), ("yes", "Consent to record given"), ("no", "Refused")],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
        required=False,
    )
    duration_seconds = forms.IntegerField(min_value=0, required=False)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0  # matches no call


def _say_withdrawn(request: HttpRequest, checked: InHand) -> None:
    """Tell staff that the call in hand was withdrawn at this check, and why."""
    if checked.withdrawn:
        why = "; ".join(checked.details) or checked.withdrawn
        messages.warning(
            request, f"The call in hand was withdrawn ({checked.withdrawn}): {why}. Do not dial."
        )


def _staff(request: HttpRequest) -> User:
    """The signed-in staff member (the admin lets no anonymous user this far)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@admin.register(MyCall)
class MyCallsAdmin(ReadOnlyAdmin, ProgramScopedAdmin):
    # The change and history pages of an attempt: the user's programs' only.
    program_path = "task__queue__program"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        here = reverse("admin:dialer_mycall_changelist")
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "take":
                if (
                    current_call(user=_staff(request)) is None
                    and preview_take_next(user=_staff(request)) is None
                ):
                    messages.info(request, "No call is waiting for your programs right now.")
                return HttpResponseRedirect(here)
            if action == "dial":
                checked = preview_dial(
                    user=_staff(request), attempt_id=_int(request.POST.get("attempt"))
                )
                _say_withdrawn(request, checked)
                return HttpResponseRedirect(here)
            if action == "outcome":
                return self._log_outcome(request, here)
        checked = preview_in_hand(user=_staff(request))
        _say_withdrawn(request, checked)
        attempt = checked.attempt
        dialled = attempt is not None and attempt.dialled_at is not None
        context = {
            **self.admin_site.each_context(request),
            "title": "My calls",
            "opts": self.model._meta,
            "attempt": attempt,
            "dialled": dialled,
            "form": OutcomeForm(initial={"attempt": attempt.pk}) if attempt and dialled else None,
            "decision": attempt.decision if attempt else None,
        }
        return TemplateResponse(request, "admin/dialer/my_calls.html", context)

    def _log_outcome(self, request: HttpRequest, here: str) -> HttpResponse:
        form = OutcomeForm(request.POST)
        attempt = current_call(user=_staff(request))
        if not form.is_valid() or attempt is None or form.cleaned_data["attempt"] != attempt.pk:
            messages.error(request, "That call is not yours to log, or the form is incomplete.")
            return HttpResponseRedirect(here)
        if attempt.dialled_at is None:
            messages.error(request, "Press Dial first: this call was not dialled.")
            return HttpResponseRedirect(here)
        try:
            attempt_outcome_record(
                attempt_id=attempt.pk,
                outcome=form.cleaned_data["outcome"],
                recording_consent=form.cleaned_data["recording_consent"],
                duration_seconds=form.cleaned_data["duration_seconds"],
                actor=actor_for_user(cast(Any, _staff(request))),
            )
        except OutcomeError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Outcome logged for call #{attempt.pk}.")
        return HttpResponseRedirect(here)
