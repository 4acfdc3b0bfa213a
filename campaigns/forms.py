"""Admin forms: weekdays as checkboxes, phone numbers in any common US format."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html

from campaigns.models import (
    MAX_REMIND_BEFORE_HOURS,
    WEEKDAY_CHOICES,
    Contact,
    PatientStatus,
    PhoneNumber,
    Program,
    Queue,
    patient_status_stricter,
)
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


class ContactForm(forms.ModelForm):  # type: ignore[type-arg]
    """The contact page: its patient status may rise here, never drop (see below)."""

    class Meta:
        model = Contact
        fields = [
            "program",
            "external_id",
            "first_name",
            "last_name",
            "state",
            "postal_code",
            "patient_status",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "patient_status" in self.fields:
            self.fields["patient_status"].help_text = format_html(
                'Only stricter here (none, current, former). A compliance officer lowers it: <a href="{}">lower the patient status</a>.',  # noqa: E501
                "../lower-status/",
            )

    def clean_patient_status(self) -> str:
        status = str(self.cleaned_data["patient_status"])
        before = self.instance.patient_status if self.instance.pk else None
        if before and patient_status_stricter(before, status) != status:
            raise forms.ValidationError(
                "A patient status only becomes stricter here; a compliance officer "
                "lowers it with 'Lower the patient status', giving a reason."
            )
        return status


class PatientStatusLowerForm(forms.Form):
    """A compliance officer's correction of a Part 2 status; the reason is audited."""

    patient_status = forms.ChoiceField(choices=PatientStatus.choices, label="New status")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the record was wrong (kept in the audit trail; no names or numbers).",
    )
