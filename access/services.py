"""Staff sign-in: the password, the second factor, enrolment, lockout and logoff, each audited.

A sign-in has two steps. The password step only remembers, in the session, who
passed it (for a few minutes); nobody is signed in until the second factor (a
TOTP code, or one of the recovery codes) is verified too. A wrong password and
a wrong code both count toward the lockout (django-axes: per user name and per
address). The audit trail names users by id; a failed sign-in carries the user
name typed only when it is an account's name (a password typed into the name
field must not land in the trail), and never the password.
"""

from __future__ import annotations

import time
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import actor_for_user, actor_system
from audit.services import audit_record
from dialer.runtime.preview import preview_release_for_user

PENDING_KEY = "access.pending"  # {"user": id, "at": epoch seconds}: passed the password step
LAST_SEEN_KEY = "access.last_seen"  # epoch seconds of the session's last request
PENDING_SECONDS = 300  # the second factor must follow the password within this time
RECOVERY_CODES = 10
_BACKEND = "django.contrib.auth.backends.ModelBackend"


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind SIGNIN_PROXY_COUNT proxies the address
    that the outermost of them saw (a client cannot forge it by sending its own header)."""
    count = settings.SIGNIN_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            return hops[-count]
        return None  # fail closed: every such request shares one (empty) address
    return request.META.get("REMOTE_ADDR")


def _record(
    *,
    request: HttpRequest,
    action: str,
    user: Any = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor_for_user(user) if user is not None else actor_system("signin"),
        action=action,
        object_type="user",
        object_id=user.pk if user is not None else "",
        reason=reason,
        data={"address": client_address(request), **(data or {})},
    )


def _account(username: str) -> User | None:
    return User.objects.filter(username=username).first() if username else None


def _locked(request: HttpRequest, username: str) -> bool:
    return bool(AxesProxyHandler.is_locked(request, {"username": username}))


def signin_failure_record(
    *, request: HttpRequest, username: str, stage: str, was_locked: bool
) -> bool:
    """Audit a refused step ("password" or "second_factor"); returns whether sign-in is now locked.

    The lockout itself is one more event, written when this failure reached the limit.
    """
    account = _account(username)
    locked = _locked(request, username)
    reason = "locked_out" if was_locked else "wrong_credentials"
    data: dict[str, Any] = {"stage": stage}
    if account is not None:
        data["username"] = account.username
    with transaction.atomic():
        _record(request=request, action="signin.failed", user=account, reason=reason, data=data)
        if locked and not was_locked:
            _record(request=request, action="signin.locked_out", user=account, data=data)
    return locked


def signin_is_locked(*, request: HttpRequest, username: str) -> bool:
    return _locked(request, username)


def signin_pending_start(*, request: HttpRequest, user: User) -> None:
    """The password was right: remember who, in a fresh session, until the second factor."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {"user": user.pk, "at": time.time()}


def signin_pending_user(*, request: HttpRequest) -> User | None:
    """Who passed the password step in this session, if it was recently and is still allowed."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True, is_staff=True).first()
    if user is None or _locked(request, user.username):
        request.session.pop(PENDING_KEY, None)
        return None
    return user


def signin_has_factor(*, user: User) -> bool:
    return bool(user_has_device(user, confirmed=True))


@dataclass(frozen=True)
class FactorCheck:
    device: Any  # the verified device, or None
    locked: bool


def signin_second_factor_check(*, request: HttpRequest, user: User, token: str) -> FactorCheck:
    """Verify a TOTP code or a recovery code; a wrong one counts toward the lockout."""
    was_locked = _locked(request, user.username)
    device = None if was_locked else match_token(user, token.strip().replace(" ", ""))
    if device is not None:
        return FactorCheck(device=device, locked=False)
    if not was_locked:
        # The failure is counted as a failed sign-in, as a wrong password is.
        user_login_failed.send(
            sender=__name__, credentials={"username": user.username}, request=request
        )
    locked = signin_failure_record(
        request=request, username=user.username, stage="second_factor", was_locked=was_locked
    )
    if locked:
        request.session.pop(PENDING_KEY, None)
    return FactorCheck(device=None, locked=locked)


def signin_complete(*, request: HttpRequest, user: User, device: Any) -> None:
    """Both factors passed: sign in, bind the device to the session, audit."""
    with transaction.atomic():
        auth.login(request, user, backend=_BACKEND)
        otp_login(request, device)
        request.session[LAST_SEEN_KEY] = time.time()
        data: dict[str, Any] = {"factor": _factor_name(device)}
        if isinstance(device, StaticDevice):
            data["recovery_codes_left"] = device.token_set.count()
        _record(request=request, action="signin.succeeded", user=user, data=data)


def _factor_name(device: Any) -> str:
    return "recovery_code" if isinstance(device, StaticDevice) else "totp"


def factor_enrol_start(*, user: User) -> TOTPDevice:
    """The authenticator being enrolled: one unconfirmed TOTP device, kept until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def factor_secret_text(*, device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it by hand (base32, in groups of four)."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def factor_enrol_confirm(*, request: HttpRequest, user: User, token: str) -> list[str] | None:
    """Confirm the authenticator with its first code, issue recovery codes, sign in.

    1. the code must verify against the unconfirmed device (a wrong one counts
       toward the lockout, as at sign-in);
    2. the device is confirmed and a fresh set of recovery codes replaces any other;
    3. the enrolment is audited and the user signed in (audited too).
    Returns the recovery codes, to be shown once, or None.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None or _locked(request, user.username):
        return None
    if not device.verify_token(token.strip().replace(" ", "")):
        user_login_failed.send(
            sender=__name__, credentials={"username": user.username}, request=request
        )
        if signin_failure_record(
            request=request, username=user.username, stage="enrolment", was_locked=False
        ):
            request.session.pop(PENDING_KEY, None)
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
        _record(
            request=request,
            action="signin.factor_enrolled",
            user=user,
            data={"factor": "totp", "recovery_codes": len(codes)},
        )
        signin_complete(request=request, user=user, device=device)
    return codes


def factors_reset(*, user: User, actor: str, reason: str) -> int:
    """An operator removes every second factor of a user (a lost phone): the next sign-in
    enrols anew. Any session of the user stays verified by a device that no longer exists,
    which django-otp treats as unverified. Returns how many devices were removed."""
    with transaction.atomic():
        removed = 0
        for model in (TOTPDevice, StaticDevice):
            removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
        audit_record(
            actor=actor,
            action="signin.factors_reset",
            object_type="user",
            object_id=user.pk,
            reason=reason,
            data={"devices_removed": removed},
        )
    return removed


def signin_unlock(*, username: str, actor: str, reason: str) -> int:
    """An operator lifts the lockout of a user name (every address it failed from).
    Returns how many lockout records were removed."""
    with transaction.atomic():
        removed = int(axes_reset(username=username))
        account = _account(username)
        audit_record(
            actor=actor,
            action="signin.unlocked",
            object_type="user",
            object_id=account.pk if account is not None else "",
            reason=reason,
            data={"records_removed": removed, "scope": "username"},
        )
    return removed


def signin_unlock_address(*, address: str, actor: str, reason: str) -> int:
    """An operator lifts the lockout of one address (every user name tried from it)."""
    with transaction.atomic():
        removed = int(axes_reset(ip=address))
        audit_record(
            actor=actor,
            action="signin.unlocked",
            object_type="address",
            reason=reason,
            data={"records_removed": removed, "scope": "address", "address": address},
        )
    return removed


def signout_record(*, request: HttpRequest) -> None:
    """The user signs out: their call in hand goes back to the queue, and it is audited."""
    user = request.user
    if not isinstance(user, User):
        return
    with transaction.atomic():
        released = preview_release_for_user(user=user, reason="signed_out")
        _record(
            request=request,
            action="signin.signed_out",
            user=user,
            data={"calls_released": released},
        )


def signin_idle_logoff(*, request: HttpRequest, idle_seconds: int) -> None:
    """Sign out a session idle past SIGNIN_IDLE_MINUTES; its call in hand goes back."""
    user = request.user
    if not isinstance(user, User):
        return
    with transaction.atomic():
        released = preview_release_for_user(user=user, reason="idle_logoff")
        _record(
            request=request,
            action="signin.idle_logoff",
            user=user,
            data={"idle_seconds": idle_seconds, "calls_released": released},
        )
    auth.logout(request)
