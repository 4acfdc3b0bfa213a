"""The append-only, hash-chained audit trail (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One recorded act: who, what, when, which object, why. Never holds PHI."""

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=100, help_text="user:<id>, api:<id> or system:<name>")
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100, blank=True)
    # A plain integer, not a foreign key: the trail outlives what it describes.
    program_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"
