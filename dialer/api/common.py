"""Serializer fields and helpers shared by the API views."""

from __future__ import annotations

import copy
import logging
import threading
import time
from functools import cache
from typing import Any

import redis
import us
from django.core.cache import cache as django_cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, pagination, serializers, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from campaigns.models import WEEKDAYS
from common.phones import InvalidPhoneNumber, to_e164
from dialer.api.auth import ApiPrincipal

log = logging.getLogger(__name__)

# Ids are PostgreSQL bigints: a larger number is refused as bad input, not a server error.
MAX_ID = 2**63 - 1


class FlatInput(serializers.Serializer):  # type: ignore[type-arg]
    """An input of plain fields, validated on a hot path (POST /callbacks/).

    DRF deep-copies the declared fields for each instance, which builds every field
    again: most of the CPU of validating a small body. Binding a field to its
    serializer only sets attributes on it, so a shallow copy serves as well, as long
    as no field holds another one: a nested serializer, or a field with a `child`
    (which binding would change in place, shared), is refused when the class is made.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
                raise TypeError(f"{cls.__name__}.{name}: FlatInput takes plain fields only")

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class IdField(serializers.IntegerField):
    """A reference to an object by id (1 .. bigint max)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset or Z: a naive time is refused rather than guessed.

    For acts with legal weight (a signature, a revocation) the instant must be
    the one the person meant, so "10:00" without a zone is bad input.
    """

    default_error_messages = {"naive": "Give a time zone (ISO 8601 with an offset or Z)."}

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # the parent names the error
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class PhoneField(serializers.CharField):
    """Any common US format in, E.164 out; the error never repeats the input."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return to_e164(text)
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(str(exc)) from None


US_STATE_CODES = sorted(s.abbr for s in us.states.STATES_AND_TERRITORIES)


@extend_schema_field({"type": "string", "enum": ["", *US_STATE_CODES], "example": "FL"})
class StateField(serializers.CharField):
    """A US state, DC or territory code (any case in, upper case out); blank for unknown."""

    default_error_messages = {"unknown": "Use the two-letter code of a US state, e.g. FL."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        super().__init__(max_length=2, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = super().to_internal_value(data).upper()
        if code and code not in US_STATE_CODES:
            self.fail("unknown")
        return code


class PostalCodeField(serializers.RegexField):
    """A US ZIP code (12345 or 12345-6789); blank for unknown."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        super().__init__(r"^(\d{5}(-\d{4})?)?$", max_length=10, **kwargs)


class WeekdaysField(serializers.ListField):
    child = serializers.ChoiceField(choices=list(WEEKDAYS))

    def to_internal_value(self, data: Any) -> list[int]:
        names = super().to_internal_value(data)
        return sorted({WEEKDAYS.index(n) for n in names})

    def to_representation(self, data: Any) -> list[str]:
        return [WEEKDAYS[i] for i in sorted(data)]


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"}
)
class HourMinuteField(serializers.TimeField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class ReasonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    detail = serializers.CharField()


class DecisionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The decision of API.md, as `Decision.to_dict()` gives it."""

    allowed = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)
    next_allowed_at = serializers.DateTimeField(allow_null=True)
    zones = serializers.ListField(child=serializers.CharField())
    evaluated_at = serializers.DateTimeField()


@cache
def _redis() -> Any:
    """The Redis client of Django's cache, made once per process: the cache API has no
    pipeline, and its `get_client` builds a new client object at every call."""
    return django_cache._cache.get_client(write=True)  # type: ignore[attr-defined]


class ClientRateThrottle(throttling.SimpleRateThrottle):
    """Per API client, whatever address it calls from: a counter per fixed window.

    DRF's default keeps every request time of the window in one cache entry,
    read and rewritten whole by each request (6,000 floats at 6000/min); here
    each request adds one to a small integer in Redis: SET NX (with the
    window's expiry) and INCR, in one script (one command). A client may burst
    to twice the rate across a window boundary, never more.

    While Redis cannot be reached, requests are counted in this process
    instead (the same windows; Redis is tried again after REDIS_RETRY_SECONDS):
    an outage of the counter must not refuse a CRM's callback, whose lead the
    database keeps.
    """

    scope = "client"

    def get_rate(self) -> str | None:
        # Read at each request (not frozen at import), so a settings change applies.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, ApiPrincipal):
            return f"throttle_client_{user.client.pk}"
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    window_end = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        limit: int | None = getattr(self, "num_requests", None)
        duration: int | None = getattr(self, "duration", None)
        base = self.get_cache_key(request, view)
        if limit is None or not duration or base is None:
            return True
        self.now = self.timer()
        window = int(self.now // duration)
        self.window_end = float((window + 1) * duration)
        key = self.cache.make_and_validate_key(f"{base}:{window}")
        count = _count_in_redis(key, duration)
        if count is None:
            count = _local_counts.add(key, window_end=self.window_end, now=self.now)
        return count <= limit

    def wait(self) -> float | None:
        return max(self.window_end - self.timer(), 1.0)


REDIS_RETRY_SECONDS = 5.0
# The window's counter, made with its expiry when new, and counted: one command (a
# pipeline of SET NX and INCR cost a third more CPU per request).
_COUNT = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"


@cache
def _counter(client: Any) -> Any:
    """The counting script, registered with this client (loaded again if Redis lost it)."""
    return client.register_script(_COUNT)


_redis_down_until = 0.0


def _count_in_redis(key: str, duration: int) -> int | None:
    """The window's count after this request, or None when Redis cannot be reached."""
    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return None
    try:
        return int(_counter(_redis())(keys=[key], args=[duration + 1]))
    except redis.RedisError as exc:
        _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        log.warning("throttle counting in this process: Redis unreachable (%s)", type(exc).__name__)
        return None


class _LocalCounts:
    """Per-process counts of the current windows (only while Redis is unreachable)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}  # key -> (window end, count)

    def add(self, key: str, *, window_end: float, now: float) -> int:
        with self._lock:
            if len(self._counts) > 10_000:  # drop ended windows now and then
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            _, count = self._counts.get(key, (window_end, 0))
            self._counts[key] = (window_end, count + 1)
            return count + 1


_local_counts = _LocalCounts()


class Pagination(pagination.LimitOffsetPagination):
    """`limit` (1-500, default 50) and `offset`; a malformed value is bad input, not ignored."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request: Request) -> int | None:
        return self._strict(request, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request: Request) -> int:
        return self._strict(request, self.offset_query_param, 0, None, 0)

    @staticmethod
    def _strict(request: Request, name: str, lowest: int, highest: int | None, default: int) -> int:
        values = request.query_params.getlist(name)
        if not values:
            return default
        text = values[-1]
        if len(values) > 1 or not text.isascii() or not text.isdigit():
            raise exceptions.ValidationError({name: ["Give one whole number."]})
        value = int(text)
        if value < lowest or (highest is not None and value > highest):
            bound = f"{lowest} to {highest}" if highest is not None else f"{lowest} or more"
            raise exceptions.ValidationError({name: [f"Use {bound}."]})
        return value

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.limit_query_param:
                param["schema"].update({"minimum": 1, "maximum": self.max_limit})
            elif param["name"] == self.offset_query_param:
                param["schema"].update({"minimum": 0})
        return params
