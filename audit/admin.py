"""The audit trail in the admin: read-only, scoped to the user's programs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent
from common.admin import ReadOnlyAdmin
from common.scoping import sees_all, user_program_ids

SIGN_IN_PREFIX = "signin."


class SignInFilter(admin.SimpleListFilter):
    """Log-in monitoring (45 CFR 164.308(a)(5)(ii)(C)): the sign-in events apart from the rest."""

    title = "sign-in events"
    parameter_name = "signin"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("all", "All sign-in events"), ("failures", "Failures and lockouts")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "all":
            return queryset.filter(action__startswith=SIGN_IN_PREFIX)
        if self.value() == "failures":
            return queryset.filter(action__in=["signin.failed", "signin.locked_out"])
        return queryset


class ActorUserFilter(admin.SimpleListFilter):
    """Every event of one staff member (acts by them, and sign-in events about them)."""

    title = "user"
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        users = get_user_model().objects.filter(is_staff=True)
        if not sees_all(request.user):
            users = users.filter(programs__in=user_program_ids(request.user)).distinct()
        return [
            (str(pk), name) for pk, name in users.order_by("username").values_list("pk", "username")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(Q(actor=f"user:{value}") | Q(object_type="user", object_id=value))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["occurred_at", "action", "actor", "object_type", "object_id", "program_id"]
    list_filter = [SignInFilter, ActorUserFilter, "action", "object_type"]
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
