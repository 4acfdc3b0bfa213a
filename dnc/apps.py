from django.apps import AppConfig

# What each staff role may do with the DNC lists (campaigns.roles merges it into the groups).
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
    role_permissions = DNC_ROLE_PERMISSIONS
