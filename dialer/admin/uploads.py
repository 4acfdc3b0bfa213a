"""What the admin's list uploads share: a bounded file field, and an import page that is
added once, read afterwards, and offers only the queues of its purpose."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest

from common.scoping import ProgramScopedAdmin

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class UploadForm(forms.ModelForm):  # type: ignore[type-arg]
    """A form with a `file` field (declared by the subclass), read whole if not too large."""

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"At most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split the file."
            )
        data: bytes = upload.read()
        return data


class ImportAdmin(ProgramScopedAdmin):
    """An import: its queue and file when added, then its report; never changed or deleted."""

    program_path = "queue__program"
    queue_purpose = ""  # the purpose of the queues an import of this kind goes into
    view_fields: list[str] = []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.view_fields if obj is not None else ["queue", "file"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.view_fields if obj is not None else []

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and field.queryset is not None and db_field.name == "queue":
            field.queryset = field.queryset.filter(purpose=self.queue_purpose)
        return field

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
