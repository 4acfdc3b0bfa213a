"""Admin building blocks shared by every app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest


class ReadOnlyAdmin:
    """For records that only services write (attempts, disclosures, the audit trail...):
    the admin shows them and never adds, changes or deletes one."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def form_errors_add(
    form: forms.BaseForm, error: ValidationError, *, renamed: Mapping[str, str] | None = None
) -> None:
    """A service's ValidationError on the form: each message on the field it names (under
    the form's name for it, when `renamed` gives one), or on the whole form."""
    for name, messages in error.message_dict.items():
        field = (renamed or {}).get(name, name)
        form.add_error(field if field in form.fields else None, messages)
