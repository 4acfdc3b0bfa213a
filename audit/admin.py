"""The audit trail in the admin: read-only, scoped to the user's programs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent
from common.admin import ReadOnlyAdmin
from common.scoping import sees_all, user_program_ids


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["occurred_at", "action", "actor", "object_type", "object_id", "program_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "action", "actor"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        qs = super().get_queryset(request)
        if sees_all(request.user):
            return qs
        # Portfolio-wide events (registry loads, ...) carry no program.
        return qs.filter(Q(program_id__in=user_program_ids(request.user)) | Q(program_id=None))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]
