"""GET /health/: the database, the broker, and a beat tick in the last three minutes."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

BEAT_KEY = "beat:last_tick"
BEAT_STALE = timedelta(minutes=3)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _check_beat() -> str:
    raw = cache.get(BEAT_KEY)
    if raw is None:
        raise RuntimeError("no beat tick recorded yet")
    if timezone.now() - datetime.fromisoformat(raw) > BEAT_STALE:
        raise RuntimeError("last beat tick is older than three minutes")
    return "ok"


def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker), ("beat", _check_beat)):
        try:
            checks[name] = check()
        except Exception as exc:  # a health check reports every failure, whatever its kind
            checks[name] = f"failing: {type(exc).__name__}: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "failing", "checks": checks}, status=200 if healthy else 503)
