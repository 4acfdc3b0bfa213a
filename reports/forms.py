"""The dashboard's filters: a period and one of the user's programs (or all of them)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms

DEFAULT_DAYS = 84  # twelve weeks
MAX_DAYS = 400  # bounded work for every request


class DashboardFilterForm(forms.Form):
    program = forms.ChoiceField(required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, programs: list[tuple[int, str]], today: date, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.today = today
        program = self.fields["program"]
        assert isinstance(program, forms.ChoiceField)
        program.choices = [("", "All my programs")] + [(str(pk), slug) for pk, slug in programs]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        until = data.get("until") or self.today
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError("The start of the period is after its end.")
        if (until - since).days >= MAX_DAYS:
            raise forms.ValidationError(f"A period of at most {MAX_DAYS} days, please.")
        data["since"], data["until"] = since, until
        return data

    def selected_program(self) -> int | None:
        value = self.cleaned_data.get("program")
        return int(value) if value else None
