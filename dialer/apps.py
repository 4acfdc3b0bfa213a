from django.apps import AppConfig

# What each staff role may do with appointments (campaigns.roles merges it into the groups).
DIALER_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "admissions_staff": {"dialer.appointment": ("view",)},
    "compliance_officer": {"dialer.appointment": ("view",), "dialer.appointmentimport": ("view",)},
    # Managers import lists (DESIGN.md: "build queues ... import lists").
    "campaign_manager": {
        "dialer.appointment": ("view",),
        "dialer.appointmentimport": ("view", "add"),
        # The supervisor view (dialer.admin.supervisor): their programs' staff and queues.
        "dialer.staffpresence": ("view",),
    },
}


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = "Calls"
    role_permissions = DIALER_ROLE_PERMISSIONS

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from dialer.runtime.schedules import schedules_sync_on_migrate

        post_migrate.connect(schedules_sync_on_migrate, sender=self)
        from campaigns.roles import roles_sync_on_migrate

        # Once this app's permission rows exist (created after campaigns' own post_migrate).
        post_migrate.connect(roles_sync_on_migrate, sender=self, dispatch_uid="dialer.roles_sync")
