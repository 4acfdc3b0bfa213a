from django.apps import AppConfig


class DialerConfig(AppConfig):
    name = "dialer"
    verbose_name = "Calls"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Registers the opt-out act (cancel tasks, then list the number) with the dnc app,
        # which may not import dialer itself.
        import dialer.optout  # noqa: F401
        from dialer.schedules import schedules_sync_on_migrate

        post_migrate.connect(schedules_sync_on_migrate, sender=self)
