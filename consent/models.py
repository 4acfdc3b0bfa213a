"""Consent records (TCPA, recording, 42 CFR Part 2), Part 2 disclosures, alumni list imports.

A consent is never deleted: revocation stamps it (the database refuses DELETE),
so the record of what the person allowed, and when that ended, outlives both.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from campaigns.models import Contact, Program, Purpose, Queue
from common.fields import EncryptedCharField, EncryptedTextField


class ConsentKind(models.TextChoices):
    TCPA_EXPRESS = "tcpa_express", "TCPA prior express consent"
    TCPA_WRITTEN = "tcpa_written", "TCPA prior express written consent (signed, for one number)"
    PART2 = "part2", "42 CFR Part 2 written consent"
    RECORDING = "recording", "Call recording consent"


# Kinds that name the number they allow calls to.
NUMBER_KINDS = frozenset({ConsentKind.TCPA_EXPRESS, ConsentKind.TCPA_WRITTEN})


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", "Signed (paper or electronic)"
    VERBAL = "verbal", "Verbal (on a call or in person)"


class ConsentSource(models.TextChoices):
    API = "api", "CRM (API)"
    ADMIN = "admin", "Staff (admin)"
    CALL = "call", "Captured on a call"


class RevocationChannel(models.TextChoices):
    """How the person revoked: any reasonable means counts (47 CFR 64.1200(a)(10))."""

    CALL = "call", "On a call"
    VERBAL = "verbal", "In person"
    WRITTEN = "written", "In writing (letter or form)"
    EMAIL = "email", "Email"
    TEXT = "text", "Text message (opt-out keyword)"
    WEB = "web", "Web form"
    CRM = "crm", "Reported by the CRM"
    OTHER = "other", "Other"


class Consent(models.Model):
    """One consent the person gave, as recorded; changed afterwards only by revocation."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    # TCPA kinds: the number the consent names (E.164, encrypted) and its keyed hash.
    number = EncryptedCharField(max_length=16, blank=True, null=True)
    number_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    purposes = ArrayField(
        models.CharField(max_length=20, choices=Purpose.choices), default=list, blank=True
    )
    # Part 2 purposes in the patient's words, one per line; not read by the dialer.
    other_purposes = EncryptedTextField(blank=True, null=True)
    signed_at = models.DateTimeField(help_text="When the person gave or signed it.")
    expires_at = models.DateTimeField(null=True, blank=True)
    expiration_event = models.CharField(max_length=200, blank=True)
    expires_never = models.BooleanField(
        default=False, help_text="The consent states explicitly that it does not expire."
    )
    signature = EncryptedTextField(blank=True, null=True)

    # 42 CFR 2.31(a): who may disclose, what, to whom, and the right to revoke.
    discloser = models.CharField(max_length=200, blank=True)
    description = EncryptedTextField(blank=True, null=True)
    recipient_programs = models.ManyToManyField(
        Program, blank=True, related_name="part2_consents_received"
    )
    outside_recipients = EncryptedTextField(
        blank=True, null=True, help_text="Named recipients outside the portfolio, one per line."
    )
    revocation_notice_given = models.BooleanField(default=False)

    # Recording consent: the call it was captured on (a dialer attempt id; no
    # foreign key, because consent never depends on the dialer).
    attempt_id = models.BigIntegerField(null=True, blank=True)

    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_channel = models.CharField(
        max_length=10, choices=RevocationChannel.choices, blank=True
    )
    # The channel as the person or the CRM named it, when it is none of ours (then
    # `other`); free text from outside, so encrypted like the reason.
    revocation_channel_label = EncryptedTextField(blank=True, null=True)
    revocation_reason = EncryptedTextField(blank=True, null=True)
    revoked_by = models.CharField(max_length=100, blank=True)

    source = models.CharField(max_length=10, choices=ConsentSource.choices)
    recorded_by = models.CharField(max_length=100, help_text="user:<id>, api:<id> or system:<name>")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        permissions = [
            ("revoke_consent", "Can revoke a consent"),
            ("export_consent", "Can export consents (a Part 2 disclosure)"),
        ]
        indexes = [
            # consent_facts_for: every consent of a batch of contacts.
            models.Index(fields=["contact", "kind"], name="consent_by_contact"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind__in=sorted(NUMBER_KINDS)) | ~models.Q(number_hash=""),
                name="consent_tcpa_names_a_number",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=ConsentKind.PART2)
                | (
                    ~models.Q(discloser="")
                    & models.Q(revocation_notice_given=True)
                    & (
                        models.Q(expires_at__isnull=False)
                        | ~models.Q(expiration_event="")
                        | models.Q(expires_never=True)
                    )
                ),
                name="consent_part2_elements",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True)
                | models.Q(expires_at__gt=models.F("signed_at")),
                name="consent_expires_after_signing",
            ),
            models.CheckConstraint(
                condition=(models.Q(revoked_at__isnull=True) & models.Q(revocation_channel=""))
                | (
                    models.Q(revoked_at__isnull=False)
                    & ~models.Q(revocation_channel="")
                    & models.Q(revoked_at__gte=models.F("signed_at"))
                ),
                name="consent_revocation_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent #{self.pk} ({self.kind})"

    @property
    def outside_recipient_list(self) -> list[str]:
        return _lines(self.outside_recipients)

    @property
    def other_purpose_list(self) -> list[str]:
        return _lines(self.other_purposes)


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


class Disclosure(models.Model):
    """One disclosure of Part 2 data, for the accounting of disclosures (42 CFR 2.25).

    Append-only: the database refuses UPDATE and DELETE.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="disclosures")
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="+", help_text="The disclosing program."
    )
    consent = models.ForeignKey(
        Consent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disclosures",
        help_text="The Part 2 consent relied on (empty: to the patient, or otherwise permitted).",
    )
    disclosed_at = models.DateTimeField()
    disclosed_by = models.CharField(
        max_length=100, help_text="user:<id>, api:<id> or system:<name>"
    )
    recipient = EncryptedCharField(max_length=200)
    purpose = models.CharField(max_length=200)
    description = models.CharField(max_length=300, help_text="What was disclosed.")
    notice = models.CharField(max_length=20, help_text="The 42 CFR 2.32 statement attached.")

    class Meta:
        ordering = ["-disclosed_at", "-id"]
        indexes = [
            # disclosures_for_patient: one patient's last three years.
            models.Index(fields=["contact", "disclosed_at"], name="disclosure_by_patient"),
        ]

    def __str__(self) -> str:
        return f"Disclosure #{self.pk}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued (large file, a worker will run it)"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REJECTED = "rejected", "Rejected (nothing imported)"
    FAILED = "failed", "Failed"


class AlumniImport(models.Model):
    """An uploaded alumni list for one reactivation queue, and its per-row report.

    The file is kept (encrypted) only until it has been imported; the report
    holds row numbers, CRM ids and reason codes, never a name or a number.
    """

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="alumni_imports")
    status = models.CharField(max_length=10, choices=ImportStatus.choices)
    content = EncryptedTextField(blank=True, null=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Alumni import #{self.pk}"
