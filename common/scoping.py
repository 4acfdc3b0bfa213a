"""Program isolation in the admin: every list, form and lookup sees only the user's programs.

A user belongs to programs through `Program.members` (reverse name `programs`);
superusers are operators and see everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import ForeignKey, Model, QuerySet
from django.db.models.fields.related import RelatedField
from django.forms import ModelChoiceField
from django.http import HttpRequest


def user_program_ids(user: Any) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached: set[int] | None = getattr(user, "_program_ids_cache", None)
    if cached is None:
        cached = set(user.programs.values_list("id", flat=True))
        user._program_ids_cache = cached
    return cached


def sees_all(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False))


class ProgramScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Scope the changelist, the object pages and foreign-key choices to the user's programs.

    `program_path` is the lookup from this model to its Program ("program",
    "queue__program", ...); "" means the model IS Program.
    """

    program_path: str = "program"

    def scope(
        self, qs: QuerySet[Any], request: HttpRequest, path: str | None = None
    ) -> QuerySet[Any]:
        if sees_all(request.user):
            return qs
        lookup = path if path is not None else self.program_path
        field = f"{lookup}__id__in" if lookup else "id__in"
        return qs.filter(**{field: user_program_ids(request.user)})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scope(super().get_queryset(request), request)

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A filter on a relation lists the related rows: scope those to the user's
        # programs too, or the sidebar names every program of the deployment.
        return [
            (entry, ProgramScopedRelatedFilter) if _scoped_relation(self.model, entry) else entry
            for entry in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None or sees_all(request.user):
            return field
        related: type[Model] = db_field.remote_field.model
        path = SCOPE_PATHS.get(related._meta.label_lower)
        if path is not None and field.queryset is not None:
            field.queryset = self.scope(field.queryset, request, path)
        return field


# How each program-owned model reaches its program; foreign keys to these are scoped.
SCOPE_PATHS: dict[str, str] = {
    "campaigns.program": "",
    "campaigns.queue": "program",
    "campaigns.script": "queue__program",
    "campaigns.contact": "program",
    "campaigns.phonenumber": "contact__program",
    "dialer.calltask": "queue__program",
    "dialer.callattempt": "task__queue__program",
    "consent.consent": "contact__program",
    "consent.disclosure": "contact__program",
    "consent.alumniimport": "queue__program",
    "dialer.appointment": "program",
    "dialer.appointmentimport": "queue__program",
}


class ProgramScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A list filter on a relation whose choices are only the user's programs' rows."""

    def field_choices(
        self, field: RelatedField[Any, Any], request: HttpRequest, model_admin: Any
    ) -> Any:
        path = SCOPE_PATHS.get(field.related_model._meta.label_lower)
        if path is None or sees_all(request.user):
            return super().field_choices(field, request, model_admin)
        lookup = f"{path}__id__in" if path else "id__in"
        return field.get_choices(
            include_blank=False,
            limit_choices_to={lookup: user_program_ids(request.user)},
            ordering=self.field_admin_ordering(field, request, model_admin),
        )


def _scoped_relation(model: type[Model], entry: Any) -> bool:
    """Is this list_filter entry a plain field path ending in a relation to program data?"""
    if not isinstance(entry, str):
        return False
    field = get_fields_from_path(model, entry)[-1]
    related = getattr(field, "related_model", None)
    return related is not None and related._meta.label_lower in SCOPE_PATHS
