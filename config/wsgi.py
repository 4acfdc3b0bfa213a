from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

_django = get_wsgi_application()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Django's WSGI application; a response held in memory is answered as one list.

    granian sends a list's bytes at once; any other iterable it walks from Rust, taking
    the GIL back for each step (about a twentieth of an API request's CPU). The response
    is closed here, as the server would close it (Django's request_finished runs then);
    a streaming or file response is left to the server as before.
    """
    response = _django(environ, start_response)
    if not isinstance(response, HttpResponse):  # streaming (files included)
        return response
    try:
        return [response.content]
    finally:
        response.close()
