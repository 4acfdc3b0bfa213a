"""The "My calls" page in the admin: take the next call, read the script, dial, log the outcome.

The call in hand is decided again on every look until it is dialled, and at
"Dial": the number appears only after that fresh, allowed decision. The page
keeps itself current (dialer/static/dialer/my_calls.js polls `live/`, which
looks again, keeps the staff member's presence alive, and says what waits).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from audit.actors import actor_for_user
from common.admin import ReadOnlyAdmin
from common.scoping import ProgramScopedAdmin, user_program_ids
from dialer.acts.outcomes import OutcomeError, attempt_outcome_record
from dialer.admin.in_hand import call_basis, withdrawn_since
from dialer.admin.waiting import waiting_for_programs
from dialer.models import MyCall, Outcome, PresenceState, StaffPresence
from dialer.presence import PresenceError, presence_seen, presence_set
from dialer.runtime.preview import (
    InHand,
    current_call,
    preview_dial,
    preview_in_hand,
    preview_take_next,
)

# How often the open page asks the server again (and keeps the presence alive).
POLL_SECONDS = 3

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


def _withdrawn_text(reason: str, details: tuple[str, ...]) -> str:
    why = "; ".join(details) or reason
    return f"The call in hand was withdrawn ({reason}): {why}. Do not dial."


def _say_withdrawn(request: HttpRequest, checked: InHand) -> None:
    """Tell staff that the call in hand was withdrawn at this check, and why."""
    if checked.withdrawn:
        messages.warning(request, _withdrawn_text(checked.withdrawn, checked.details))


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
            if action == "presence":
                self._set_presence(request)
                return HttpResponseRedirect(here)
        user = _staff(request)
        now = timezone.now()
        presence_seen(user=user, now=now)
        checked = preview_in_hand(user=user)
        _say_withdrawn(request, checked)
        presence = StaffPresence.objects.filter(user=user).first()
        context = {
            **self.admin_site.each_context(request),
            **self._parts(request, checked, now=now),
            "title": "My calls",
            "opts": self.model._meta,
            "presence": presence,
            "presence_states": PresenceState.choices,
            "live_url": reverse("admin:dialer_mycall_live"),
            "poll_seconds": POLL_SECONDS,
            "presence_timeout_seconds": settings.PRESENCE_TIMEOUT_SECONDS,
        }
        return TemplateResponse(request, "admin/dialer/my_calls.html", context)

    def get_urls(self) -> list[URLPattern]:
        live = path("live/", self.admin_site.admin_view(self.live_view), name="dialer_mycall_live")
        return [live, *super().get_urls()]

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """The page's poll: the call in hand looked at again, what waits, the presence.

        `had` is the call the page shows: when it is gone, the answer says why
        (withdrawn, with its reason) so that the page can say it too.
        """
        if not self.has_view_permission(request):
            return JsonResponse({"error": "forbidden"}, status=403)
        user = _staff(request)
        now = timezone.now()
        presence_seen(user=user, now=now)
        checked = preview_in_hand(user=user)
        withdrawn = ""
        if checked.withdrawn:
            withdrawn = _withdrawn_text(checked.withdrawn, checked.details)
        else:
            had = _int(request.GET.get("had"))
            shown = checked.attempt.pk if checked.attempt else None
            if had and had != shown:
                gone = withdrawn_since(user=user, attempt_id=had)
                if gone is not None:
                    withdrawn = _withdrawn_text(*gone)
        parts = self._parts(request, checked, now=now)
        presence = StaffPresence.objects.filter(user=user).first()
        return JsonResponse(
            {
                "in_hand_key": parts["in_hand_key"],
                "in_hand_html": render_to_string(
                    "admin/dialer/my_calls_in_hand.html", parts, request=request
                ),
                "waiting_html": render_to_string(
                    "admin/dialer/my_calls_waiting.html", parts, request=request
                ),
                "withdrawn": withdrawn,
                "presence": presence.get_state_display() if presence else "Away",
            }
        )

    def _parts(self, request: HttpRequest, checked: InHand, *, now: Any) -> dict[str, Any]:
        """What the page's live parts show: the call in hand and what waits."""
        user = _staff(request)
        attempt = checked.attempt
        dialled = attempt is not None and attempt.dialled_at is not None
        return {
            "attempt": attempt,
            "dialled": dialled,
            "form": OutcomeForm(initial={"attempt": attempt.pk}) if attempt and dialled else None,
            "decision": attempt.decision if attempt else None,
            "basis": call_basis(attempt, now=now) if attempt else None,
            "in_hand_key": f"{attempt.pk}:{int(dialled)}" if attempt else "",
            "waiting": waiting_for_programs(program_ids=user_program_ids(user), now=now),
            "now": now,
        }

    def _set_presence(self, request: HttpRequest) -> None:
        try:
            presence_set(
                user=_staff(request),
                state=request.POST.get("state", ""),
                answer_at=request.POST.get("answer_at"),
                now=timezone.now(),
            )
        except PresenceError as exc:
            messages.error(request, str(exc))

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
