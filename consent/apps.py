from __future__ import annotations

from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and Part 2"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import (
            ADMISSIONS_STAFF,
            CAMPAIGN_MANAGER,
            COMPLIANCE_OFFICER,
            EXTRA_ROLE_PERMISSIONS,
            roles_sync_on_migrate,
        )

        grants: dict[str, dict[str, tuple[str, ...]]] = {
            # Intake records consents and revokes them when the person asks.
            ADMISSIONS_STAFF: {"consent.consent": ("view", "add", "revoke")},
            # Compliance reads everything, revokes, and answers for every disclosure.
            COMPLIANCE_OFFICER: {
                "consent.consent": ("view", "revoke", "export"),
                "consent.disclosure": ("view",),
                "consent.alumniimport": ("view",),
            },
            # Managers import lists (DESIGN.md: "build queues ... import lists").
            CAMPAIGN_MANAGER: {"consent.alumniimport": ("view", "add")},
        }
        for role, models in grants.items():
            EXTRA_ROLE_PERMISSIONS.setdefault(role, {}).update(models)
        # Sync again once this app's permission rows exist (they are created
        # after campaigns' own post_migrate on a fresh database).
        post_migrate.connect(roles_sync_on_migrate, sender=self, dispatch_uid="consent.roles_sync")
