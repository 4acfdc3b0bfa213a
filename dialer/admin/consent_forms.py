"""Admin forms: one consent form for every kind, revocation, export, alumni upload.

Each form asks the service to check its input, so the admin refuses exactly
what the API refuses, with the error on the field it concerns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Contact, Program, Purpose
from common.admin import form_errors_add
from consent.inputs import UNSET, ConsentInput
from consent.models import AlumniImport, Consent, ConsentKind, ConsentMethod, RevocationChannel
from consent.services import consent_validate
from dialer.acts.alumni_file import alumni_parse
from dialer.admin.uploads import UploadForm

# Service input name -> the form field that carries it (where they differ).
_FIELD_FOR_INPUT = {"recipients": "recipient_programs"}


class ConsentForm(forms.ModelForm):  # type: ignore[type-arg]
    """A verbal recording consent, a TCPA consent or a Part 2 written consent, in one form."""

    kind = forms.ChoiceField(choices=ConsentKind.choices)
    method = forms.ChoiceField(
        choices=[("", "Usual for the kind"), *ConsentMethod.choices], required=False
    )
    signed_at = forms.SplitDateTimeField(
        label="Given or signed at", widget=AdminSplitDateTime, initial=timezone.now
    )
    signature = forms.CharField(
        required=False,
        help_text='As signed (e.g. "/s/ name" or the e-signature reference). Kept encrypted.',
    )
    number = forms.CharField(
        required=False, help_text="TCPA consents: the number it allows calls to, any US format."
    )
    purposes = forms.MultipleChoiceField(
        choices=Purpose.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    other_purposes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Part 2: other purposes in the consent's words, one per line.",
    )
    expires_at = forms.SplitDateTimeField(
        required=False, widget=AdminSplitDateTime, label="Expires at"
    )
    expiration_event = forms.CharField(
        required=False, help_text='Part 2: an event, e.g. "end of treatment".'
    )
    expires_never = forms.BooleanField(
        required=False, label="Does not expire (stated on the consent)"
    )
    discloser = forms.CharField(
        required=False, help_text="Part 2: who may disclose; empty = the contact's program."
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Part 2: the information that may be disclosed.",
    )
    recipient_programs = forms.ModelMultipleChoiceField(
        queryset=Program.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Recipient programs",
    )
    outside_recipients = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Part 2: named recipients outside this portfolio, one per line.",
    )
    revocation_notice_given = forms.BooleanField(
        required=False, label="The patient was told of the right to revoke, and how"
    )
    attempt_id = forms.IntegerField(
        required=False, min_value=1, help_text="Recording: the call attempt it was given on."
    )

    class Meta:
        model = Consent
        fields = ["contact"]

    def _get_validation_exclusions(self) -> set[str]:
        # The service checks the consent as a whole (clean() below) and stores it;
        # the unsaved model instance only checks that the contact is one of ours.
        return {f.name for f in Consent._meta.get_fields() if f.name != "contact"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            consent_validate(data=self.service_inputs())
        except ValidationError as exc:
            form_errors_add(self, exc, renamed=_FIELD_FOR_INPUT)
        return data

    def service_inputs(self) -> ConsentInput:
        """The form's values as the service's (and the API's) one input type."""
        d = self.cleaned_data
        expires_at: datetime | object | None = d.get("expires_at") or UNSET
        if d.get("expires_never") and expires_at is UNSET:
            expires_at = None
        recipients: list[Any] = list(d.get("recipient_programs") or [])
        recipients += _lines(d.get("outside_recipients"))
        return ConsentInput.of(
            contact=d.get("contact"),
            kind=d.get("kind", ""),
            signed_at=d.get("signed_at"),
            number=d.get("number", ""),
            purposes=[*(d.get("purposes") or []), *_lines(d.get("other_purposes"))],
            expires_at=expires_at,
            signature=d.get("signature", ""),
            recipients=recipients,
            description=d.get("description", ""),
            discloser=d.get("discloser", ""),
            expiration_event=d.get("expiration_event", ""),
            revocation_notice_given=bool(d.get("revocation_notice_given")),
            method=d.get("method", ""),
            attempt_id=d.get("attempt_id"),
        )


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class RevokeForm(forms.Form):
    channel = forms.ChoiceField(
        choices=RevocationChannel.choices, help_text="How the person revoked."
    )
    revoked_at = forms.SplitDateTimeField(
        widget=AdminSplitDateTime,
        initial=timezone.now,
        help_text="When the person revoked; it takes effect now in any case.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the person said or wrote (kept encrypted; not in the audit trail).",
    )


class ExportForm(forms.Form):
    recipient = forms.CharField(max_length=200, help_text="Who receives this file.")
    purpose = forms.CharField(max_length=200, help_text="Why it is disclosed.")
    consent = forms.ModelChoiceField(
        queryset=Consent.objects.none(),
        required=False,
        help_text="The Part 2 consent relied on (empty: to the patient, or as Part 2 permits).",
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["consent"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Consent.objects.filter(
            contact=contact, kind=ConsentKind.PART2, revoked_at__isnull=True
        )


class AlumniImportForm(UploadForm):
    file = forms.FileField(
        help_text=(
            "CSV, UTF-8, with a header: external_id, phone (required); first_name, last_name, "
            "line_type, provided_by_patient, state, postal_code, patient_status (optional)."
        )
    )

    class Meta:
        model = AlumniImport
        fields = ["queue"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        content = data.get("file")
        if isinstance(content, bytes):
            _, errors, not_shown = alumni_parse(data=content)
            if errors:
                lines = [f"Row {e.row}, {e.field}: {e.message}" for e in errors]
                if not_shown:
                    lines.append(f"... and {not_shown} more problems.")
                lines.append("Nothing was imported. Fix the file and upload it again.")
                raise ValidationError(lines)
        return data
