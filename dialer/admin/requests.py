"""What every page of the dialer's admin needs from a request: who acts, and the answer for
an object outside the user's programs."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from audit.actors import actor_for_user


def actor_of(request: HttpRequest) -> str:
    """The audit actor of the signed-in user (the admin lets no one else this far)."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied
    # audit.actors._HasPk declares `pk` as a mutable attribute, which no user model matches.
    return actor_for_user(cast(Any, user))


def missing(request: HttpRequest) -> HttpResponseRedirect:
    """As the admin answers for an object outside the user's programs: it does not exist."""
    messages.warning(request, "That object does not exist. Perhaps it was deleted?")
    return HttpResponseRedirect(reverse("admin:index"))
