"""Serializer fields and helpers shared by the API views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, throttling
from rest_framework.request import Request

from campaigns.models import WEEKDAYS
from common.phones import InvalidPhoneNumber, to_e164
from dialer.api.auth import ApiPrincipal


class PhoneField(serializers.CharField):
    """Any common US format in, E.164 out; the error never repeats the input."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return to_e164(text)
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(str(exc)) from None


class WeekdaysField(serializers.ListField):
    child = serializers.ChoiceField(choices=list(WEEKDAYS))

    def to_internal_value(self, data: Any) -> list[int]:
        names = super().to_internal_value(data)
        return sorted({WEEKDAYS.index(n) for n in names})

    def to_representation(self, data: Any) -> list[str]:
        return [WEEKDAYS[i] for i in sorted(data)]


@extend_schema_field({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"})
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


class ClientRateThrottle(throttling.SimpleRateThrottle):
    """Per API client, whatever address it calls from."""

    scope = "client"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, ApiPrincipal):
            return f"throttle_client_{user.client.pk}"
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
