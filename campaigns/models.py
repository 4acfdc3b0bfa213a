"""Programs (tenants), their queues and scripts, and the contacts they call."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from common.crypto import keyed_hash
from common.fields import EncryptedCharField
from common.phones import exchange_digits

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_CHOICES = [(i, d) for i, d in enumerate(WEEKDAYS)]
ALL_DAYS = list(range(7))
WORK_DAYS = list(range(6))

state_code = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code, e.g. FL.")
e164_us = RegexValidator(r"^\+1\d{10}$", "Use E.164, e.g. +13055550123.")
MAX_REMIND_BEFORE_HOURS = 24 * 14


class Purpose(models.TextChoices):
    CALLBACK = "callback", "Callback (the person asked)"
    REMINDER = "reminder", "Appointment reminder"
    REACTIVATION = "reactivation", "Alumni reactivation (telemarketing)"


class ConsentBasis(models.TextChoices):
    OWN_REQUEST = "own_request", "The person's own request"
    HEALTHCARE_EXEMPTION = "healthcare_exemption", "Healthcare message exemption"
    PRIOR_EXPRESS_WRITTEN = "prior_express_written", "Prior express written consent"


# The consent basis is the law's answer to the purpose, so it is derived, never chosen.
CONSENT_BASIS_FOR_PURPOSE = {
    Purpose.CALLBACK: ConsentBasis.OWN_REQUEST,
    Purpose.REMINDER: ConsentBasis.HEALTHCARE_EXEMPTION,
    Purpose.REACTIVATION: ConsentBasis.PRIOR_EXPRESS_WRITTEN,
}
SOLICITATION_PURPOSES = frozenset({Purpose.REACTIVATION})


class Program(models.Model):
    slug = models.SlugField(unique=True)
    legal_name = models.CharField(max_length=200)
    neutral_name = models.CharField(
        max_length=15,
        help_text="Caller-ID name that does not reveal treatment (CNAM allows 15 characters).",
    )
    state = models.CharField(max_length=2, validators=[state_code])
    timezone = models.CharField(max_length=64, default="America/New_York")
    caller_id_number = models.CharField(max_length=12, blank=True, validators=[e164_us])
    business_start = models.TimeField(default=time(8, 0))
    business_end = models.TimeField(default=time(21, 0))
    business_days = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    active = models.BooleanField(default=True)
    telephony_backend = models.CharField(
        max_length=10,
        blank=True,
        choices=[("preview", "Preview (staff dial)"), ("twilio", "Twilio"), ("sip", "SIP")],
        help_text="Blank: the deployment's TELEPHONY_BACKEND. Credentials stay in the environment.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="programs", blank=True)
    # A Reassigned Numbers Database query tells the provider that a treatment
    # program holds the number: none is sent until both agreements are on file.
    rnd_baa_signed_on = models.DateField(
        null=True, blank=True, help_text="Business associate agreement with the RND provider."
    )
    rnd_qso_signed_on = models.DateField(
        null=True,
        blank=True,
        help_text="Part 2 qualified service organization agreement with the RND provider.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        import pytz

        if self.timezone not in pytz.all_timezones_set:
            raise ValidationError({"timezone": "Unknown IANA time zone."})
        if self.business_start >= self.business_end:
            raise ValidationError({"business_end": "Must be after the start."})


class Queue(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="queues")
    slug = models.SlugField()
    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    window_start = models.TimeField(default=time(9, 0), help_text="Called party's local time.")
    window_end = models.TimeField(default=time(20, 0), help_text="Called party's local time.")
    days = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    max_attempts = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    retry_minutes = models.PositiveIntegerField(default=240, validators=[MinValueValidator(1)])
    remind_before_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_REMIND_BEFORE_HOURS)],
        help_text="Reminder queues: how long before the appointment the reminder is due.",
    )
    active = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=100, blank=True)
    current_script = models.ForeignKey(
        "Script", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Agent-first calls that reach a machine hang up by default; a callback or reminder
    # queue may leave its own recorded message (its consent basis allows it; reactivation,
    # telemarketing, never leaves a prerecorded message).
    voicemail_message_url = models.URLField(
        blank=True,
        help_text="Callback and reminder queues: a recording played to an answering machine.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["program", "slug"], name="queue_slug_per_program"),
            models.CheckConstraint(
                condition=models.Q(window_start__lt=models.F("window_end")),
                name="queue_window_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(voicemail_message_url="")
                | models.Q(purpose__in=["callback", "reminder"]),
                name="queue_voicemail_message_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.slug}/{self.slug}"

    @property
    def consent_basis(self) -> str:
        return CONSENT_BASIS_FOR_PURPOSE[Purpose(self.purpose)].value

    @property
    def is_solicitation(self) -> bool:
        return self.purpose in SOLICITATION_PURPOSES


class Script(models.Model):
    """A disclosure script version; immutable once an attempt used it."""

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="scripts")
    version = models.PositiveIntegerField()
    recording_disclosure = models.TextField(
        default="This call may be recorded. May we record it?",
        help_text="Read first, before anything else.",
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    used = models.BooleanField(default=False, editable=False)
    # A review judgment, not content: a manager may set it on a used version
    # (script_mark_promotional), and a reminder queue whose current script
    # carries it refuses its calls (the healthcare exemption covers only the
    # appointment itself).
    promotional = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["queue", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "version"], name="script_version_per_queue")
        ]

    def __str__(self) -> str:
        return f"{self.queue} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk and Script.objects.filter(pk=self.pk, used=True).exists():
            raise ValidationError("This script version was used on a call; publish a new one.")
        super().save(*args, **kwargs)


class PatientStatus(models.TextChoices):
    NONE = "none", "Not a patient"
    CURRENT = "current", "Current patient"
    FORMER = "former", "Former patient (alumni)"


# From the least to the most protected (42 CFR Part 2): none -> current -> former.
PATIENT_STATUS_ORDER = (PatientStatus.NONE, PatientStatus.CURRENT, PatientStatus.FORMER)


def patient_status_stricter(*statuses: str | None) -> str:
    """The stricter of the statuses given (empty ones ignored; none at all: `none`).

    The one rule for every place that meets two readings of a person's status
    (a PATCH, an alumni list, an eligibility override): the record only ever
    rises, and a value we do not know counts as the strictest (fail closed).
    """

    def rank(status: str) -> int:
        try:
            return PATIENT_STATUS_ORDER.index(PatientStatus(status))
        except ValueError:
            return len(PATIENT_STATUS_ORDER) - 1

    given = [s for s in statuses if s]
    if not given:
        return PatientStatus.NONE
    return str(PATIENT_STATUS_ORDER[max(rank(s) for s in given)].value)


class Contact(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="contacts")
    external_id = models.CharField(max_length=100, blank=True, help_text="The CRM's id.")
    first_name = EncryptedCharField(max_length=100, blank=True, null=True)
    last_name = EncryptedCharField(max_length=100, blank=True, null=True)
    state = models.CharField(max_length=2, blank=True, validators=[state_code])
    postal_code = models.CharField(
        max_length=10, blank=True, validators=[RegexValidator(r"^\d{5}(-\d{4})?$")]
    )
    patient_status = models.CharField(
        max_length=10, choices=PatientStatus.choices, default=PatientStatus.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("lower_status_contact", "Can lower a contact's patient status (audited)"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"],
                condition=~models.Q(external_id=""),
                name="contact_external_id_per_program",
            )
        ]

    def __str__(self) -> str:
        # Logs and admin breadcrumbs see an id, never a name.
        return f"Contact #{self.pk}"


class LineType(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    LANDLINE = "landline", "Landline"
    UNKNOWN = "unknown", "Unknown"


class PhoneNumber(models.Model):
    # No index of its own: phone_once_per_contact (contact, number_hash) serves it.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="phones", db_index=False
    )
    number = EncryptedCharField(max_length=16, help_text="E.164")
    number_hash = models.CharField(max_length=64, editable=False)  # indexed in Meta
    # The NPA-NXX in the clear: it identifies an exchange of 10,000 lines, not a person,
    # and it is all the decision needs of the digits (validity, zones, presumed states),
    # so a planning tick decrypts nothing. "" when the number is not a +1 ten-digit one.
    exchange = models.CharField(max_length=6, blank=True, default="", editable=False)
    # The registries' answer for this number, kept per registry generation by
    # dialer.listings; a different generation than the current one is not used.
    registry_generation = models.BigIntegerField(default=0, editable=False, db_index=True)
    registry_lists = models.CharField(max_length=200, blank=True, default="", editable=False)
    line_type = models.CharField(max_length=10, choices=LineType.choices, default=LineType.UNKNOWN)
    provided_by_patient = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "number_hash"], name="phone_once_per_contact"
            )
        ]
        # Looked up by equality only (a number's holders): one plain index, without the
        # pattern-matching copy that db_index adds to a CharField (each costs every insert).
        indexes = [models.Index(fields=["number_hash"], name="phone_by_number_hash")]

    def __str__(self) -> str:
        return f"Phone #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.derive()
        super().save(*args, **kwargs)

    def derive(self, *, keep_registry_answer: bool = False) -> None:
        """What is kept beside the encrypted number (`save` calls it; a bulk insert must).
        `keep_registry_answer`: the caller has set the answer for this very number."""
        number_hash = keyed_hash(self.number)
        if number_hash != self.number_hash and not keep_registry_answer:
            # A new number: a kept registry answer is not its own.
            self.registry_generation, self.registry_lists = 0, ""
        self.number_hash, self.exchange = number_hash, exchange_digits(self.number)
