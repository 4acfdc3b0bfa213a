"""The append-only, hash-chained audit trail (the database refuses UPDATE and DELETE).

A row is written unsealed (no `seq`, no hashes) and the sealer (audit.services.audit_seal)
gives it its place in the chain once, a few seconds later; the database refuses every
other change.
"""

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
    # The seal: the row's place in the chain (1, 2, 3, ... without gaps), its
    # predecessor's hash and its own; NULL and empty until the sealer sets them once.
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # The sealer's queue (audit_seal) and the unsealed tail's age (audit_unsealed_tail).
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"
