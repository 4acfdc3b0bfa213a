"""The admin site, behind two factors: a password, then a TOTP code (or a recovery code).

A staff member without a second factor enrols one at their first sign-in
(a QR code, or the secret as text) and receives recovery codes once. Every
admin page asks for a session verified by a device: a correct password alone
reaches none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from access.services import (
    PENDING_KEY,
    factor_enrol_confirm,
    factor_enrol_start,
    factor_secret_text,
    signin_complete,
    signin_failure_record,
    signin_has_factor,
    signin_is_locked,
    signin_pending_start,
    signin_pending_user,
    signin_second_factor_check,
    signout_record,
)

LOCKED_MESSAGE = (
    "This account or address is locked after too many failed sign-ins. "
    "Ask an operator to unlock it."
)


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class StaffAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff whose session was verified by a second factor."""
        verified = getattr(request.user, "is_verified", None)
        return super().has_permission(request) and callable(verified) and bool(verified())

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [
            path("login/code/", self.second_factor_view, name="signin_code"),
            path("login/enrol/", self.enrol_view, name="signin_enrol"),
            *super().get_urls(),
        ]

    def _next(self, request: HttpRequest) -> str:
        wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
        if wanted and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return wanted
        return reverse("admin:index", current_app=self.name)

    def _page(
        self, request: HttpRequest, template: str, title: str, **context: Any
    ) -> TemplateResponse:
        request.current_app = self.name
        return TemplateResponse(
            request,
            template,
            {
                **self.each_context(request),
                "title": title,
                "app_path": request.get_full_path(),
                REDIRECT_FIELD_NAME: self._next(request),
                **context,
            },
        )

    @method_decorator(sensitive_post_parameters("password"))
    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Step 1: the password. Right: on to the code (or to enrolment). Wrong: audited."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        form = AdminAuthenticationForm(
            request, data=request.POST if request.method == "POST" else None
        )
        if request.method == "POST":
            username = str(request.POST.get("username", ""))[:150]
            was_locked = signin_is_locked(request=request, username=username)
            if not was_locked and form.is_valid():
                user = form.get_user()
                signin_pending_start(request=request, user=user)
                step = "admin:signin_code" if signin_has_factor(user=user) else "admin:signin_enrol"
                query = "?" + urlencode({REDIRECT_FIELD_NAME: self._next(request)})
                return HttpResponseRedirect(reverse(step, current_app=self.name) + query)
            if signin_failure_record(
                request=request, username=username, stage="password", was_locked=was_locked
            ):
                form = AdminAuthenticationForm(request)
                form.errors["__all__"] = form.error_class([LOCKED_MESSAGE])
        return self._page(request, "admin/login.html", "Log in", form=form, subtitle=None)

    @method_decorator(sensitive_post_parameters("otp_token"))
    @method_decorator(never_cache)
    def second_factor_view(self, request: HttpRequest) -> HttpResponse:
        """Step 2: a code from the authenticator app, or one recovery code."""
        user = signin_pending_user(request=request)
        if user is None:
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        if not signin_has_factor(user=user):
            return HttpResponseRedirect(reverse("admin:signin_enrol", current_app=self.name))
        form = CodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            check = signin_second_factor_check(
                request=request, user=user, token=form.cleaned_data["otp_token"]
            )
            if check.device is not None:
                signin_complete(request=request, user=user, device=check.device)
                return HttpResponseRedirect(self._next(request))
            form.add_error(None, LOCKED_MESSAGE if check.locked else "That code is not valid.")
        return self._page(request, "access/code.html", "Second factor", form=form)

    @method_decorator(sensitive_post_parameters("otp_token"))
    @method_decorator(never_cache)
    def enrol_view(self, request: HttpRequest) -> HttpResponse:
        """First sign-in without a second factor: enrol an authenticator app, get recovery codes."""
        user = signin_pending_user(request=request)
        if user is None:
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        if signin_has_factor(user=user):
            return HttpResponseRedirect(reverse("admin:signin_code", current_app=self.name))
        form = CodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            codes = factor_enrol_confirm(
                request=request, user=user, token=form.cleaned_data["otp_token"]
            )
            if codes is not None:
                return self._page(
                    request, "access/recovery_codes.html", "Recovery codes", codes=codes
                )
            if PENDING_KEY not in request.session:  # locked meanwhile
                form = CodeForm()
                form.add_error(None, LOCKED_MESSAGE)
                return self._page(request, "access/code.html", "Second factor", form=form)
            form.add_error(None, "That code is not valid. Check the time on your phone.")
        device = factor_enrol_start(user=user)
        qr = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000")
        return self._page(
            request,
            "access/enrol.html",
            "Set up your second factor",
            form=form,
            qr=qr,
            secret=factor_secret_text(device=device),
        )

    def logout(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        if request.method == "POST" and request.user.is_authenticated:
            signout_record(request=request)
        return super().logout(request, extra_context)
