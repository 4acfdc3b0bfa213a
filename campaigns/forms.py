"""Admin forms: weekdays as checkboxes, phone numbers in any common US format."""

from __future__ import annotations

from typing import Any

from django import forms

from campaigns.models import MAX_REMIND_BEFORE_HOURS, WEEKDAY_CHOICES, PhoneNumber, Program, Queue
from common.phones import InvalidPhoneNumber, to_e164


def weekday_field(label: str) -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(
        label=label,
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class ProgramForm(forms.ModelForm):  # type: ignore[type-arg]
    business_days = weekday_field("Business days")

    class Meta:
        model = Program
        fields = [
            "slug",
            "legal_name",
            "neutral_name",
            "state",
            "timezone",
            "caller_id_number",
            "business_start",
            "business_end",
            "business_days",
            "active",
            "members",
            "rnd_baa_signed_on",
            "rnd_qso_signed_on",
        ]


class QueueForm(forms.ModelForm):  # type: ignore[type-arg]
    days = weekday_field("Calling days")
    remind_before_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_REMIND_BEFORE_HOURS,
        help_text="Reminder queues: hours before the appointment (blank: unchanged, or 24).",
    )
    new_script = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Text here publishes a new script version; used versions never change.",
    )

    class Meta:
        model = Queue
        fields = [
            "program",
            "slug",
            "name",
            "purpose",
            "window_start",
            "window_end",
            "days",
            "max_attempts",
            "retry_minutes",
            "remind_before_hours",
            "active",
        ]

    def clean_remind_before_hours(self) -> int:
        value = self.cleaned_data.get("remind_before_hours")
        return int(value) if value is not None else self.instance.remind_before_hours

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not (data.get("new_script") or "").strip():
            self.add_error("new_script", "A new queue needs its script.")
        return data


class PhoneNumberForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = PhoneNumber
        fields = ["number", "line_type", "provided_by_patient"]

    def clean_number(self) -> str:
        try:
            return to_e164(self.cleaned_data["number"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None
