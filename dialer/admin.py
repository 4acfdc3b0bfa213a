"""Tasks, attempts and API clients in the admin, scoped to the user's programs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from common.scoping import ProgramScopedAdmin
from dialer.models import ApiClient, CallAttempt, CallTask


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CallAttempt
    fields = ["attempt_number", "started_at", "outcome", "duration_seconds", "script", "backend"]
    readonly_fields = fields
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
        return False  # tasks are created by services (API, My calls, imports)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallAttempt)
class CallAttemptAdmin(ProgramScopedAdmin):
    program_path = "task__queue__program"
    list_display = ["__str__", "task", "attempt_number", "started_at", "outcome", "backend"]
    list_filter = ["outcome", "backend", "answered", "abandoned"]
    list_select_related = ["task"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in CallAttempt._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiClient)
class ApiClientAdmin(ProgramScopedAdmin):
    list_display = ["name", "program", "role", "token_prefix", "active", "created_at"]
    list_filter = ["role", "active", "program"]
    readonly_fields = ["token_prefix", "created_at"]
    fields = ["program", "name", "role", "active", "token_prefix", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are shown once, by `manage.py create_api_client`

from dialer import my_calls as _my_calls  # noqa: E402,F401  (registers "My calls")
