"""The supervisor view in the admin, for campaign managers: their programs' staff and
calls now, today per queue, callbacks waiting, and the after-hours callback latency."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from campaigns.models import Program, Purpose
from common.admin import ReadOnlyAdmin
from common.scoping import sees_all, user_program_ids
from dialer.admin.supervision import after_hours_latency, latency_chart, queues_today, staff_rows
from dialer.admin.waiting import waiting_for_programs
from dialer.models import StaffPresence


@admin.register(StaffPresence)
class SupervisorAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    """ "Staff presences" in the menu: the supervisor view (read only; staff set their own
    presence on My calls)."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        now = timezone.now()
        programs = (
            set(Program.objects.values_list("id", flat=True))
            if sees_all(request.user)
            else user_program_ids(request.user)
        )
        latency = after_hours_latency(program_ids=programs, now=now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Supervisor view",
            "opts": self.model._meta,
            "staff": staff_rows(program_ids=programs, now=now),
            "queues": queues_today(program_ids=programs, now=now),
            "callbacks": [
                w
                for w in waiting_for_programs(program_ids=programs, now=now)
                if w.purpose == Purpose.CALLBACK
            ],
            "latency": latency,
            "latency_chart": latency_chart(latency),
        }
        return TemplateResponse(request, "admin/dialer/supervisor.html", context)
