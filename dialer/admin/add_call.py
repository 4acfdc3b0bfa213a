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
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from campaigns.models import Contact, PhoneNumber, Purpose, Queue
from common.admin import ReadOnlyAdmin
from common.phones import mask
from common.scoping import ProgramScopedAdmin, sees_all, user_program_ids
from dialer.acts.appointment_import import appointments_import_submit, appointments_parse
from dialer.acts.appointments import AppointmentError, appointment_record
from dialer.acts.callbacks import CallbackError, callback_request
from dialer.admin.requests import actor_of
from dialer.admin.uploads import ImportAdmin, UploadForm
from dialer.decision.clock import utc_of
from dialer.models import Appointment, AppointmentImport, CallTask

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


def _enqueue_dispatch(task_id: int) -> None:
    from dialer.tasks import dispatch_soon

    dispatch_soon(task_id)


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
                    actor=actor_of(request),
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
                    actor=actor_of(request),
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


# --- Appointments and their file imports ------------------------------------------------------


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin, ProgramScopedAdmin):
    list_display = ["__str__", "external_id", "queue", "starts_at", "status", "task"]
    list_filter = ["status", "queue__program"]
    search_fields = ["external_id"]
    list_select_related = ["queue__program"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["program", "external_id", "contact", "queue", "starts_at", "status", "task"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj)


class AppointmentImportForm(UploadForm):
    file = forms.FileField(
        help_text=(
            "CSV, UTF-8, with a header: external_id (the EMR's appointment id), contact (the "
            "contact's external_id), starts_at (ISO 8601 with an offset); phone (optional)."
        )
    )

    class Meta:
        model = AppointmentImport
        fields = ["queue"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        queue, content = data.get("queue"), data.get("file")
        if queue is not None and queue.purpose != Purpose.REMINDER:
            self.add_error("queue", "Appointments go into a reminder queue.")
        elif queue is not None and isinstance(content, bytes):
            _, errors = appointments_parse(queue=queue, data=content)
            if errors:
                lines = [f"Row {e.row}, {e.field}: {e.message}" for e in errors]
                lines.append("Nothing was imported. Fix the file and upload it again.")
                raise ValidationError(lines)
        return data


@admin.register(AppointmentImport)
class AppointmentImportAdmin(ImportAdmin):
    """Upload an EMR's appointments into a reminder queue; read the report per row."""

    queue_purpose = Purpose.REMINDER
    form = AppointmentImportForm
    list_display = ["__str__", "queue", "done", "summary", "created_at"]
    list_select_related = ["queue__program"]
    view_fields = ["queue", "done", "requested_by", "created_at", "summary", "report_table"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        run, errors = appointments_import_submit(
            queue=form.cleaned_data["queue"],
            data=form.cleaned_data["file"],
            actor=actor_of(request),
        )
        if run is None:  # the form checked the file already; only a race gets here
            raise ValidationError([f"Row {e.row}, {e.field}: {e.message}" for e in errors])
        obj.pk = run.pk
        obj._state.adding = False
        self.message_user(
            request,
            f"{run}: {self.summary(run)}" if run.done else f"{run}: queued for a worker.",
            messages.SUCCESS if run.done else messages.INFO,
        )

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:dialer_appointmentimport_change", args=[obj.pk]))

    @admin.display(description="Summary")
    def summary(self, obj: AppointmentImport) -> str:
        s = (obj.report or {}).get("summary") or {}
        if not s:
            return "-"
        return f"{s.get('queued', 0)} reminders queued, {s.get('not_queued', 0)} not queued"

    @admin.display(description="Per row")
    def report_table(self, obj: AppointmentImport) -> SafeString:
        report = obj.report or {}
        errors = format_html_join(
            "",
            '<tr class="errornote"><td>{}</td><td></td><td>error</td><td>{}: {}</td></tr>',
            ((e["row"], e["field"], e["message"]) for e in report.get("errors", [])),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (o["row"], o["external_id"], o["status"].replace("_", " "), o["detail"])
                for o in report.get("rows", [])
            ),
        )
        return format_html(
            "<table><tr><th>Row</th><th>Appointment id</th><th>Result</th><th>Why</th></tr>"
            "{}{}</table>",
            errors,
            rows,
        )
