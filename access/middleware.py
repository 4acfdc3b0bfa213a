"""Idle logoff: a signed-in session without a request for SIGNIN_IDLE_MINUTES is signed out."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from access.services import LAST_SEEN_KEY, signin_idle_logoff

# Sent by a page's background poll: it keeps the page current but is not activity.
POLL_HEADER = "X-Live-Poll"


class IdleLogoffMiddleware:
    """Checks each request of a signed-in session against the time of its previous one.

    The page's own script (access/idle.js) reloads the page once the limit has
    passed, so that an idle screen is signed out (and its call given back) even
    if nobody touches it; a browser closed meanwhile loses its cookie anyway.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_SEEN_KEY)
            limit = settings.SIGNIN_IDLE_MINUTES * 60
            if isinstance(last, int | float) and now - last > limit:
                signin_idle_logoff(request=request, idle_seconds=int(now - last))
                messages.info(
                    request,
                    f"You were signed out after {settings.SIGNIN_IDLE_MINUTES} minutes "
                    "without activity. Any call in hand went back to the queue.",
                )
            elif not request.headers.get(POLL_HEADER):
                # A page's own poll (dialer/static/dialer/my_calls.js) is not activity.
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


def idle_logoff_context(request: HttpRequest) -> dict[str, int]:
    """For the page script that warns before the idle logoff (templates read it)."""
    return {"signin_idle_seconds": settings.SIGNIN_IDLE_MINUTES * 60}
