"""Tasks, attempts, API clients and planning schedules in the admin, scoped by program."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from campaigns.models import WEEKDAY_CHOICES, Queue
from common.admin import ReadOnlyAdmin
from common.scoping import ProgramScopedAdmin, sees_all
from dialer.admin.requests import actor_of
from dialer.models import ApiClient, CallAttempt, CallTask
from dialer.runtime.abandonment import AbandonmentError, abandonment_rate, abandonment_resume
from dialer.runtime.rnd import RND_PURPOSES, rnd_waiting_count
from dialer.runtime.schedules import (
    QueueSchedule,
    ScheduleError,
    queue_id_of,
    queue_schedule_update,
    schedules_visible_to,
)

_ATTEMPT_COLUMNS = (
    "attempt_number",
    "started_at",
    "outcome",
    "duration_seconds",
    "script",
    "backend",
)


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CallAttempt
    fields = _ATTEMPT_COLUMNS
    readonly_fields = _ATTEMPT_COLUMNS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallTask)
class CallTaskAdmin(ProgramScopedAdmin):
    program_path = "queue__program"
    list_display = ["__str__", "queue", "status", "next_attempt_at", "attempts", "origin"]
    list_filter = ["status", "origin", "queue__purpose", "queue__program"]
    search_fields = ["contact__external_id"]
    readonly_fields = [
        "contact",
        "phone",
        "queue",
        "status",
        "next_attempt_at",
        "attempts",
        "last_decision",
        "closed_reason",
        "origin",
        "source",
        "requested_at",
        "appointment_at",
        "created_at",
    ]
    inlines = [AttemptInline]
    list_select_related = ["queue__program"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are created by services (API, imports, "Add a call" on a contact)

    def get_urls(self) -> list[URLPattern]:
        from dialer.admin.add_call import add_call_view

        own = [
            path(
                "add-for-contact/<int:contact_id>/",
                self.admin_site.admin_view(add_call_view),
                name="dialer_calltask_add_for_contact",
            )
        ]
        return own + super().get_urls()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallAttempt)
class CallAttemptAdmin(ReadOnlyAdmin, ProgramScopedAdmin):
    program_path = "task__queue__program"
    list_display = ["__str__", "task", "attempt_number", "started_at", "outcome", "backend"]
    list_filter = ["outcome", "backend", "answered", "abandoned"]
    list_select_related = ["task"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in CallAttempt._meta.fields]


@admin.register(ApiClient)
class ApiClientAdmin(ProgramScopedAdmin):
    list_display = ["name", "program", "role", "token_prefix", "active", "created_at"]
    list_filter = ["role", "active", "program"]
    readonly_fields = ["token_prefix", "created_at"]
    fields = ["program", "name", "role", "active", "token_prefix", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are shown once, by `manage.py create_api_client`


# --- Planning schedules (django-celery-beat), scoped per program ---------------------------

HOURS = [(h, f"{h:02d}:00") for h in range(25)]


class QueueScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """What a campaign manager may change on a queue's planning schedule, and nothing else."""

    days = forms.TypedMultipleChoiceField(
        label="Planning days",
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    hour_start = forms.TypedChoiceField(label="From", choices=HOURS[:-1], coerce=int)
    hour_end = forms.TypedChoiceField(
        label="Until", choices=HOURS[1:], coerce=int, help_text="In the program's time zone."
    )

    class Meta:
        model = PeriodicTask
        fields = ["enabled"]
        labels = {"enabled": "Running (untick to pause the planning of this queue)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = QueueSchedule.of(self.instance)
        self.initial.update(
            days=sorted(current.days), hour_start=current.hour_start, hour_end=current.hour_end
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            QueueSchedule(
                frozenset(data.get("days") or ()),
                data.get("hour_start", 0),
                data.get("hour_end", 24),
                bool(data.get("enabled")),
            ).validate()
        except ScheduleError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class ScheduleAdmin(BeatPeriodicTaskAdmin):
    """django-celery-beat's admin for operators; campaign managers see their queues' schedules.

    For anyone but a superuser: only the planning schedules of queues in their
    programs, a form of days, hours and "running", saved by
    `queue_schedule_update` (audited); no adding, deleting or running tasks.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[PeriodicTask]:
        return schedules_visible_to(request.user, super().get_queryset(request))

    def _manager(self, request: HttpRequest) -> bool:
        return not sees_all(request.user)

    def get_list_display(self, request: HttpRequest) -> Any:
        if self._manager(request):
            return [
                "queue_of",
                "planning",
                "enabled",
                "abandonment",
                "rnd_waiting",
                "last_run_at",
            ]
        return super().get_list_display(request)

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        return (
            ["queue_of"]
            if self._manager(request)
            else super().get_list_display_links(request, list_display)
        )

    def get_list_filter(self, request: HttpRequest) -> Any:
        return ["enabled"] if self._manager(request) else super().get_list_filter(request)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if self._manager(request):
            return QueueScheduleForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._manager(request):
            return [(None, {"fields": ["queue_of", "days", "hour_start", "hour_end", "enabled"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._manager(request):
            return ["queue_of"]
        return super().get_readonly_fields(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if self._manager(request):
            keep = {"pause_schedules", "resume_schedules", "resume_after_abandonment"}
            return {name: action for name, action in actions.items() if name in keep}
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return sees_all(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return sees_all(request.user) and super().has_delete_permission(request, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        if self._manager(request):  # without the list of every crontab the parent adds
            return admin.ModelAdmin.changeform_view(
                self, request, object_id, form_url, extra_context
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: PeriodicTask, form: Any, change: bool) -> None:
        queue_id = queue_id_of(obj)
        if not self._manager(request) or queue_id is None:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        queue_schedule_update(
            queue_id=queue_id,
            actor=actor_of(request),
            days=data["days"],
            hour_start=data["hour_start"],
            hour_end=data["hour_end"],
            enabled=data["enabled"],
        )
        obj.refresh_from_db()

    def _queue(self, obj: PeriodicTask) -> Queue | None:
        queue_id = queue_id_of(obj)
        if queue_id is None:
            return None
        return Queue.objects.select_related("program").filter(pk=queue_id).first()

    @admin.display(description="Queue")
    def queue_of(self, obj: PeriodicTask) -> str:
        queue = self._queue(obj)
        return str(queue) if queue else obj.name

    @admin.display(description="Planning ticks")
    def planning(self, obj: PeriodicTask) -> str:
        queue = self._queue(obj)
        zone = queue.program.timezone if queue else "UTC"
        return f"{QueueSchedule.of(obj).describe()} ({zone})"

    @admin.display(description="Abandonment (30 days)")
    def abandonment(self, obj: PeriodicTask) -> str:
        queue = self._queue(obj)
        if queue is None:
            return "-"
        rate = str(abandonment_rate(queue_id=queue.pk))
        return f"{rate}, paused" if queue.paused_reason else rate

    @admin.display(description="Numbers awaiting an RND answer")
    def rnd_waiting(self, obj: PeriodicTask) -> str:
        queue = self._queue(obj)
        if queue is None or queue.purpose not in RND_PURPOSES:
            return "-"
        return str(rnd_waiting_count(queue_id=queue.pk, at=timezone.now()))

    def _each_queue(self, request: HttpRequest, queryset: QuerySet[PeriodicTask], act: Any) -> None:
        done = 0
        for task in self.get_queryset(request).filter(pk__in=queryset.values("pk")):
            queue_id = queue_id_of(task)
            if queue_id is None:
                continue
            try:
                act(queue_id)
            except (AbandonmentError, ScheduleError) as exc:
                self.message_user(request, f"Queue {queue_id}: {exc}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} queue(s) changed.")

    @admin.action(description="Pause the planning of the selected queues", permissions=["change"])
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        actor = actor_of(request)
        self._each_queue(
            request,
            queryset,
            lambda q: queue_schedule_update(queue_id=q, actor=actor, enabled=False),
        )

    @admin.action(description="Resume the planning of the selected queues", permissions=["change"])
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        actor = actor_of(request)
        self._each_queue(
            request,
            queryset,
            lambda q: queue_schedule_update(queue_id=q, actor=actor, enabled=True),
        )

    @admin.action(
        description="Lift the abandonment pause (only under 3%% over 30 days)",
        permissions=["change"],
    )
    def resume_after_abandonment(
        self, request: HttpRequest, queryset: QuerySet[PeriodicTask]
    ) -> None:
        actor = actor_of(request)
        self._each_queue(request, queryset, lambda q: abandonment_resume(queue_id=q, actor=actor))

    actions = (
        *BeatPeriodicTaskAdmin.actions,
        "pause_schedules",
        "resume_schedules",
        "resume_after_abandonment",
    )
