"""Staff sign-in: two factors, lockout, idle logoff, and every sign-in in the audit trail."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccessConfig(AppConfig):
    default = True
    name = "access"
    verbose_name = "Staff sign-in"


class StaffAdminConfig(admin_apps.AdminConfig):
    """The admin, with a site that lets only a second-factor-verified staff member in."""

    default = False
    default_site = "access.site.StaffAdminSite"
