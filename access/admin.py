"""The libraries' own device pages are withdrawn: factors change only through audited paths
(enrolment at sign-in, `manage.py signin_reset_factors`), and a TOTP secret is never shown
again after enrolment."""

from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
