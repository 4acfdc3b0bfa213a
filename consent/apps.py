from __future__ import annotations

from django.apps import AppConfig

# What each staff role may do with consents (campaigns.roles merges it into the groups).
CONSENT_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # Intake records consents and revokes them when the person asks.
    "admissions_staff": {"consent.consent": ("view", "add", "revoke")},
    # Compliance reads everything, revokes, and answers for every disclosure.
    "compliance_officer": {
        "consent.consent": ("view", "revoke", "export"),
        "consent.disclosure": ("view",),
        "consent.alumniimport": ("view",),
    },
    # Managers import lists (DESIGN.md: "build queues ... import lists").
    "campaign_manager": {"consent.alumniimport": ("view", "add")},
}


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and Part 2"
    role_permissions = CONSENT_ROLE_PERMISSIONS

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import roles_sync_on_migrate

        # Sync again once this app's permission rows exist (they are created
        # after campaigns' own post_migrate on a fresh database).
        post_migrate.connect(roles_sync_on_migrate, sender=self, dispatch_uid="consent.roles_sync")
