"""POST /dnc/ (an opt-out, effective at once) and GET /dnc/{number}/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.phones import InvalidPhoneNumber, to_e164
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import PhoneField
from dialer.api.errors import ApiError
from dialer.optout import dnc_request_record
from dnc.selectors import dnc_status


class DncInput(serializers.Serializer):  # type: ignore[type-arg]
    number = PhoneField()
    source = serializers.CharField(max_length=50, default="api")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DncOutput(serializers.Serializer):  # type: ignore[type-arg]
    number = serializers.CharField()
    internal = serializers.BooleanField()
    national = serializers.BooleanField()
    states = serializers.ListField(child=serializers.CharField())


def _status(e164: str) -> dict[str, object]:
    found = dnc_status(number_e164=e164)
    return {
        "number": e164,
        "internal": found.internal,
        "national": found.national,
        "states": sorted(found.states),
    }


class DncCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=DncInput, responses={201: DncOutput})
    def post(self, request: Request) -> Response:
        data = DncInput(data=request.data)
        data.is_valid(raise_exception=True)
        who = principal(request)
        fields = data.validated_data
        dnc_request_record(
            number=fields["number"],
            source=fields["source"],
            note=fields["note"],
            actor=who.actor,
            program_id=who.program.pk,
        )
        return Response(_status(fields["number"]), status=status.HTTP_201_CREATED)


class DncDetail(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(responses=DncOutput)
    def get(self, request: Request, number: str) -> Response:
        try:
            e164 = to_e164(number)
        except InvalidPhoneNumber as exc:
            raise ApiError("invalid", "Invalid input: number.", fields={"number": [str(exc)]}) from None
        return Response(_status(e164))
