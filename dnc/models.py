"""The internal do-not-call list and the national and state registry snapshots.

The registry numbers themselves live in `dnc_registry_number`, a table partitioned
by load and area code (`dnc.registry.storage`); the models here describe the
loads, which load is in force for each source and area code (`RegistryCoverage`),
and the generation that in-memory indexes are checked against.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.postgres.fields import ArrayField
from django.db import models

from common.fields import EncryptedCharField, EncryptedTextField

# A registry copy older than this many days may not be used for a solicitation call
# (TSR 310.4(b)(3)(iv); 47 CFR 64.1200(c)(2)(i)(D)).
REGISTRY_MAX_AGE_DAYS = 31
# Internal entries are honoured for at least five years (47 CFR 64.1200(d)(6)).
INTERNAL_RETENTION_YEARS = 5
# RegistryCoverage.area_code of a list that covers its whole source (a state list).
ALL_AREA_CODES = 0


class RemovalReason(models.TextChoices):
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error (wrong number or person)"
    CONSENT_GIVEN = "consent_given", "The person later gave express consent to be called"
    OTHER = "other", "Other (explained in the note)"


class InternalDncEntry(models.Model):
    """A request not to be called, honoured by every program and every purpose.

    Never deleted (a trigger refuses DELETE): removal is a separate, audited act
    that records who, when and why. At most one active entry per number.
    """

    number = EncryptedCharField(max_length=16, help_text="E.164")
    number_hash = models.CharField(max_length=64, editable=False)
    source = models.CharField(
        max_length=50, help_text="Where the request came from: admin, api, staff_outcome..."
    )
    note = EncryptedTextField(blank=True, null=True)
    # A plain integer, not a foreign key: dnc sits below campaigns, and the
    # entry covers every program whichever one took the request.
    program_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.CharField(max_length=100)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=100, blank=True)
    removal_reason = models.CharField(max_length=20, choices=RemovalReason.choices, blank=True)
    removal_note = EncryptedTextField(blank=True, null=True)
    # Set by the database on every insert and update, in commit order (the trigger
    # serialises writers), so a process can keep an in-memory copy up to date
    # by reading only the rows past the last seq it saw.
    seq = models.BigIntegerField(default=0, editable=False, db_index=True)

    class Meta:
        verbose_name = "internal DNC entry"
        verbose_name_plural = "internal DNC entries"
        ordering = ["-added_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["number_hash"],
                condition=models.Q(removed_at__isnull=True),
                name="dnc_one_active_entry_per_number",
            )
        ]
        permissions = [
            ("remove_internaldncentry", "Can remove an internal DNC entry (audited)"),
            ("viewall_internaldncentry", "Can see the internal DNC entries of every program"),
            ("scrub_internaldncentry", "Can scrub a list of numbers against every DNC list"),
        ]

    def __str__(self) -> str:
        return f"DNC entry #{self.pk}"

    @property
    def active(self) -> bool:
        return self.removed_at is None

    @property
    def keep_until(self) -> date | None:
        if self.added_at is None:
            return None
        added = self.added_at.date()
        try:
            return added.replace(year=added.year + INTERNAL_RETENTION_YEARS)
        except ValueError:  # 29 February
            return added.replace(year=added.year + INTERNAL_RETENTION_YEARS, day=28)


class LoadKind(models.TextChoices):
    FULL = "full", "Full list"
    CHANGES = "changes", "Change list"


class RegistryLoad(models.Model):
    """One committed load of a registry: a full snapshot or a change list.

    A full load owns the table `dnc_regnum_<id>`; it is in force for the
    area codes whose `RegistryCoverage` points at it. Refused or interrupted
    loads leave no row (and no partition): they are recorded in the audit trail.
    """

    source = models.CharField(max_length=8, help_text="national or state:XX")
    kind = models.CharField(max_length=8, choices=LoadKind.choices)
    as_of = models.DateField()
    area_codes = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        help_text=(
            "Full: the area codes it replaced ([0] = the whole list)."
            " Changes: the copies it brought up to date."
        ),
    )
    files = models.JSONField(
        default=list,
        blank=True,
        help_text="name, sha256, bytes, lines, numbers, blank, headers, bad",
    )
    rows_added = models.BigIntegerField(default=0)
    rows_deleted = models.BigIntegerField(default=0)
    lines_skipped = models.BigIntegerField(
        default=0, help_text="Bad lines skipped (--skip-bad) and additions outside any full list."
    )
    generation = models.BigIntegerField(help_text="The registry generation this load produced.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    loaded_by = models.CharField(max_length=100)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["source", "-as_of"], name="dnc_load_by_source")]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} as of {self.as_of} (#{self.pk})"


def partition_name(load_id: int) -> str:
    return f"dnc_regnum_{int(load_id)}"


class RegistryCoverage(models.Model):
    """Which full load is in force for a source and area code, and how fresh it is."""

    source = models.CharField(max_length=8)
    area_code = models.PositiveSmallIntegerField(help_text="0: the whole list (state lists).")
    load = models.ForeignKey(
        RegistryLoad, on_delete=models.PROTECT, related_name="coverage", help_text="Its rows."
    )
    last_load = models.ForeignKey(
        RegistryLoad, on_delete=models.PROTECT, related_name="+", help_text="Full or changes."
    )
    as_of = models.DateField()

    class Meta:
        verbose_name = "registry freshness"
        verbose_name_plural = "registry freshness"
        ordering = ["as_of", "source", "area_code"]
        constraints = [
            models.UniqueConstraint(fields=["source", "area_code"], name="dnc_one_copy_per_area")
        ]

    def __str__(self) -> str:
        area = "all area codes" if self.area_code == ALL_AREA_CODES else str(self.area_code)
        return f"{self.source} {area}"

    @property
    def expires_on(self) -> date:
        """The last day this copy may be used for a solicitation call."""
        return self.as_of + timedelta(days=REGISTRY_MAX_AGE_DAYS)


class RegistryState(models.Model):
    """One row: the generation, bumped by every committed load, and its stamp.

    The stamp is random and new with every generation, so an index file named
    after it can never be mistaken for another database's, or for this one's
    before a restore, even where generation numbers repeat.
    """

    generation = models.BigIntegerField(default=0)
    stamp = models.CharField(max_length=36, blank=True, default="")

    def __str__(self) -> str:
        return f"registry generation {self.generation}"


class RegistryNumber(models.Model):
    """A row of the partitioned table `dnc_registry_number` (created in SQL, not by Django).

    Read-only from Python: loads write it through COPY into a new partition.
    """

    number = models.BigIntegerField(primary_key=True, help_text="The 10 digits, as an integer.")
    load = models.ForeignKey(
        RegistryLoad, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        managed = False
        db_table = "dnc_registry_number"

    def __str__(self) -> str:
        return f"registry row of load #{self.load_id}"


class RndResult(models.TextChoices):
    YES = "yes", "Yes: disconnected since the date asked about"
    NO = "no", "No: not disconnected since that date"
    NO_DATA = "no_data", "No data"


class RndAnswer(models.Model):
    """The Reassigned Numbers Database's answer for one number and one date asked about.

    The number is kept only as its keyed hash: an answer is looked up, never
    listed by number. One row per number and date: a later answer replaces an
    earlier one (the newest `queried_at` wins).
    """

    number_hash = models.CharField(max_length=64)
    consent_date = models.DateField(help_text="The date asked about (the consent's date).")
    result = models.CharField(max_length=7, choices=RndResult.choices)
    queried_at = models.DateTimeField(help_text="When the RND answered.")
    source = models.CharField(max_length=100, help_text="file:<name> or provider:<name>")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "reassigned-number answer"
        constraints = [
            models.UniqueConstraint(
                fields=["number_hash", "consent_date"], name="dnc_one_rnd_answer_per_date"
            )
        ]

    def __str__(self) -> str:
        return f"RND answer #{self.pk}"
