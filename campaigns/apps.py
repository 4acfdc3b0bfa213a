from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Programs and queues"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import roles_sync_on_migrate

        # Groups need the permission rows, which Django creates after migrating
        # each app: sync after every app, so the last one leaves every grant in place.
        post_migrate.connect(roles_sync_on_migrate, dispatch_uid="campaigns.roles_sync")
