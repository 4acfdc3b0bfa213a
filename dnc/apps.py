from django.apps import AppConfig

# What each staff role may do with the DNC lists (merged into the role groups).
DNC_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "admissions_staff": {
        "dnc.internaldncentry": ("view", "add"),
    },
    "campaign_manager": {
        "dnc.internaldncentry": ("scrub",),
        "dnc.registrycoverage": ("view",),
    },
    "compliance_officer": {
        "dnc.internaldncentry": ("view", "add", "remove", "viewall", "scrub"),
        "dnc.registryload": ("view",),
        "dnc.registrycoverage": ("view",),
    },
}


class DncConfig(AppConfig):
    name = "dnc"
    verbose_name = "Do-Not-Call"

    def ready(self) -> None:
        # The role groups are defined in campaigns; this only adds rows to its table
        # of extra grants (no model or service of campaigns is used here).
        from campaigns.roles import EXTRA_ROLE_PERMISSIONS

        for role, grants in DNC_ROLE_PERMISSIONS.items():
            EXTRA_ROLE_PERMISSIONS.setdefault(role, {}).update(grants)
