"""The four staff roles as Django groups, with the model permissions each needs.

Which objects a role sees is a separate matter: every admin list is also
scoped to the programs the user belongs to (common.scoping).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission

ADMISSIONS_STAFF = "admissions_staff"
CAMPAIGN_MANAGER = "campaign_manager"
COMPLIANCE_OFFICER = "compliance_officer"
MARKETING_ANALYST = "marketing_analyst"

# app_label.model -> actions, per role. Anything not listed is refused.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    ADMISSIONS_STAFF: {
        "campaigns.program": ("view",),
        "campaigns.queue": ("view",),
        "campaigns.script": ("view",),
        "campaigns.contact": ("view", "add", "change"),
        "campaigns.phonenumber": ("view", "add", "change"),
        "dialer.calltask": ("view", "add"),
        "dialer.callattempt": ("view", "add"),
        "dialer.mycall": ("view",),
    },
    CAMPAIGN_MANAGER: {
        "campaigns.program": ("view",),
        "campaigns.queue": ("view", "add", "change"),
        "campaigns.script": ("view", "add"),
        "dialer.calltask": ("view",),
        # Their queues' planning schedules only (dialer.admin.call_tasks.ScheduleAdmin scopes the
        # list and the form); crontab rows are shared values, changed by operators alone.
        "django_celery_beat.periodictask": ("view", "change"),
    },
    COMPLIANCE_OFFICER: {
        "campaigns.program": ("view",),
        "campaigns.queue": ("view",),
        "campaigns.script": ("view",),
        # Lowering a Part 2 status is theirs alone, with a reason (audited).
        "campaigns.contact": ("view", "lower_status"),
        "campaigns.phonenumber": ("view",),
        "dialer.calltask": ("view",),
        "dialer.callattempt": ("view",),
        "audit.auditevent": ("view",),
    },
    MARKETING_ANALYST: {
        "campaigns.program": ("view",),
        "campaigns.queue": ("view",),
    },
}


def grants_of_apps() -> dict[str, dict[str, tuple[str, ...]]]:
    """What the other apps grant each role on their own models: the `role_permissions`
    attribute of their AppConfig (read here, so that no app imports another for it)."""
    merged: dict[str, dict[str, tuple[str, ...]]] = {}
    for config in django_apps.get_app_configs():
        for role, grants in getattr(config, "role_permissions", {}).items():
            merged.setdefault(role, {}).update(grants)
    return merged


def roles_sync() -> None:
    """Create the groups and set exactly the permissions listed (idempotent)."""
    extra = grants_of_apps()
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = {**grants, **extra.get(role, {})}
        perms = []
        for model_label, actions in wanted.items():
            app_label, model = model_label.split(".")
            for action in actions:
                perm = Permission.objects.filter(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                ).first()
                if perm is not None:
                    perms.append(perm)
        group.permissions.set(perms)


def roles_sync_on_migrate(**kwargs: Any) -> None:
    roles_sync()
