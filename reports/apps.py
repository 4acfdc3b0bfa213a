"""Marketing reports from the de-identified marketing view, and the operator tools."""

from __future__ import annotations

from django.apps import AppConfig

# Who may open the marketing dashboard (campaigns.roles merges it into the groups).
REPORTS_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "marketing_analyst": {"reports.marketingcall": ("view",)},
    "campaign_manager": {"reports.marketingcall": ("view",)},
}


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"
    role_permissions = REPORTS_ROLE_PERMISSIONS

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import roles_sync_on_migrate

        # This app's permission rows exist only after its own post_migrate step.
        post_migrate.connect(roles_sync_on_migrate, sender=self, dispatch_uid="reports.roles_sync")
