"""Marketing reports from the de-identified marketing view, and the operator tools."""

from __future__ import annotations

from django.apps import AppConfig

# Who may open the marketing dashboard (merged into the role groups of campaigns).
REPORTS_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "marketing_analyst": {"reports.marketingcall": ("view",)},
    "campaign_manager": {"reports.marketingcall": ("view",)},
}


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import EXTRA_ROLE_PERMISSIONS, roles_sync_on_migrate

        for role, grants in REPORTS_ROLE_PERMISSIONS.items():
            EXTRA_ROLE_PERMISSIONS.setdefault(role, {}).update(grants)
        # This app's permission rows exist only after its own post_migrate step.
        post_migrate.connect(roles_sync_on_migrate, sender=self, dispatch_uid="reports.roles_sync")
