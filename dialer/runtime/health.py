"""GET /health/: the database, the broker, a beat tick in the last three minutes, and
no audit row left unsealed longer than AUDIT_SEAL_MAX_SECONDS (audit.services).

Beat's heartbeat schedule (dialer.runtime.schedules) sends `dialer.heartbeat` every
minute; a worker stores the time in the cache. A recent value therefore shows
that beat, the broker and a dispatch worker all work. The answer is 200 with
every check "ok", else 503; a failing check names the kind of error only
(the endpoint is public: no host names, no messages).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit.services import audit_unsealed_tail

BEAT_KEY = "beat:last_tick"
BEAT_STALE = timedelta(minutes=3)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


class BeatStale(RuntimeError):
    pass


def _check_beat() -> str:
    raw = cache.get(BEAT_KEY)
    if raw is None:
        raise BeatStale("no beat tick recorded yet")
    if timezone.now() - datetime.fromisoformat(raw) > BEAT_STALE:
        raise BeatStale("the last beat tick is older than three minutes")
    return "ok"


class AuditSealLate(RuntimeError):
    pass


def _check_audit_seal() -> str:
    if audit_unsealed_tail().too_old:
        raise AuditSealLate("an audit row waits to be sealed longer than AUDIT_SEAL_MAX_SECONDS")
    return "ok"


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("database", _check_database),
    ("broker", _check_broker),
    ("beat", _check_beat),
    ("audit", _check_audit_seal),
)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS:
        try:
            checks[name] = check()
        except (BeatStale, AuditSealLate) as exc:
            checks[name] = f"failing: {exc}"
        except Exception as exc:  # a health check reports every failure, whatever its kind
            checks[name] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "failing", "checks": checks},
        status=200 if healthy else 503,
    )
