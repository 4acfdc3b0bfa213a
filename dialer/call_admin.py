"""Staff add a call from a contact's page: a callback the person asked for, or a reminder.

Both go through the services the API uses (`callback_request`,
`appointment_record`), so the same rules decide them and the same audit
events record them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audit.actors import actor_for_user
from campaigns.models import Contact, PhoneNumber, Purpose, Queue
from common.phones import mask
from common.scoping import sees_all, user_program_ids
from dialer.appointments import AppointmentError, appointment_record
from dialer.callbacks import CallbackError, callback_request
from dialer.decision.clock import utc_of
from dialer.models import CallTask

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
KINDS = [(Purpose.CALLBACK.value, "Callback"), (Purpose.REMINDER.value, "Appointment reminder")]


class PhoneChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: PhoneNumber) -> str:
        given = ", given by the patient" if obj.provided_by_patient else ""
        return f"{mask(obj.number)} ({obj.line_type}{given})"


class AddCallForm(forms.Form):
    kind = forms.ChoiceField(choices=KINDS)
    queue = forms.ModelChoiceField(queryset=Queue.objects.none())
    phone = PhoneChoice(queryset=PhoneNumber.objects.none())
    requested_at = forms.DateTimeField(
        required=False,
        input_formats=LOCAL_FORMATS,
        label="Asked on",
        help_text="Callback: when the person asked to be called (default: now).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    starts_at = forms.DateTimeField(
        required=False,
        input_formats=LOCAL_FORMATS,
        label="Appointment",
        help_text="Reminder: when the appointment starts.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    external_id = forms.CharField(
        required=False,
        max_length=100,
        label="Appointment id",
        help_text="Reminder: the EMR's id, if it has one (a repeat moves that appointment).",
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = contact
        queues = Queue.objects.filter(
            program_id=contact.program_id, purpose__in=[k for k, _ in KINDS]
        ).select_related("program")
        cast(forms.ModelChoiceField, self.fields["queue"]).queryset = queues  # type: ignore[type-arg]
        cast(PhoneChoice, self.fields["phone"]).queryset = contact.phones.order_by("id")

    def _local(self, value: datetime | None) -> datetime | None:
        """A wall time in the program's zone, to UTC (naive input is the admin's norm)."""
        if value is None:
            return None
        wall = timezone.make_naive(value) if timezone.is_aware(value) else value
        seconds = wall.hour * 3600 + wall.minute * 60
        return utc_of(self.contact.program.timezone, wall.date(), seconds)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, queue = data.get("kind"), data.get("queue")
        if queue is not None and kind and queue.purpose != kind:
            self.add_error("queue", "Choose a queue of this kind.")
        data["requested_at"] = self._local(data.get("requested_at"))
        data["starts_at"] = self._local(data.get("starts_at"))
        if kind == Purpose.REMINDER and data["starts_at"] is None:
            self.add_error("starts_at", "A reminder needs the appointment's time.")
        if kind == Purpose.CALLBACK and (data["requested_at"] or timezone.now()) > timezone.now():
            self.add_error("requested_at", "Cannot be in the future.")
        return data


def _actor(request: HttpRequest) -> str:
    if not isinstance(request.user, AbstractBaseUser):
        raise PermissionDenied
    return actor_for_user(cast(Any, request.user))


def _enqueue_dispatch(task_id: int) -> None:
    from dialer.tasks import dispatch

    dispatch.delay(task_id)


def add_call_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The page behind "Add a call" on a contact: staff of the contact's program only."""
    if not request.user.has_perm("dialer.add_calltask"):
        raise PermissionDenied
    contact = Contact.objects.select_related("program").filter(pk=contact_id).first()
    if contact is None or not (
        sees_all(request.user) or contact.program_id in user_program_ids(request.user)
    ):
        messages.warning(request, "That object does not exist. Perhaps it was deleted?")
        return HttpResponseRedirect(reverse("admin:index"))
    back = reverse("admin:campaigns_contact_change", args=[contact.pk])
    form = AddCallForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        phone: PhoneNumber = data["phone"]
        try:
            if data["kind"] == Purpose.CALLBACK:
                result = callback_request(
                    program=contact.program,
                    actor=_actor(request),
                    origin="admin",
                    enqueue=_enqueue_dispatch,
                    queue=data["queue"],
                    contact=contact,
                    phone=phone.number,
                    requested_at=data["requested_at"],
                    source="staff",
                )
                text = f"{result.task} added" if result.created else f"{result.task} already open"
            else:
                recorded = appointment_record(
                    program=contact.program,
                    actor=_actor(request),
                    origin="admin",
                    external_id=data["external_id"] or f"staff-{timezone.now():%Y%m%d%H%M%S%f}",
                    contact=contact,
                    starts_at=data["starts_at"],
                    queue=data["queue"],
                    phone=phone.number,
                )
                text = f"{recorded.appointment} recorded; " + (
                    f"reminder {recorded.task} queued"
                    if recorded.task is not None
                    else recorded.detail
                )
        except (CallbackError, AppointmentError) as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, text)
            return HttpResponseRedirect(back)
    context = {
        **admin.site.each_context(request),
        "opts": CallTask._meta,
        "title": f"Add a call for {contact}",
        "form": form,
        "zone": contact.program.timezone,
        "cancel_url": back,
    }
    return TemplateResponse(request, "admin/dialer/add_call.html", context)


def add_call_link(obj: Contact) -> SafeString | str:
    if obj is None or obj.pk is None:
        return "-"
    url = reverse("admin:dialer_calltask_add_for_contact", args=[obj.pk])
    return format_html('<a class="button" href="{}">Add a call (callback or reminder)</a>', url)


add_call_link.short_description = "Calls"  # type: ignore[attr-defined]

# The contact page links to it; set on the instance, so campaigns' ContactAdmin stays as written.
_contact_admin = admin.site._registry.get(Contact)
if _contact_admin is not None and "add_call_link" not in (_contact_admin.fields or []):
    _contact_admin.add_call_link = add_call_link  # type: ignore[attr-defined]
    _contact_admin.fields = [*(_contact_admin.fields or []), "add_call_link"]  # type: ignore[misc]
    _contact_admin.readonly_fields = [*_contact_admin.readonly_fields, "add_call_link"]  # type: ignore[misc]
