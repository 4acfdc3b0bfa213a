"""POST /dnc/ (an opt-out, effective at once), GET /dnc/{number}/ and POST /dnc/lookup/.

GET /dnc/{number}/ is the contract's lookup and puts the number in the URL:
our logs redact what follows /dnc/ (common.logging), but proxies and access
logs outside this process may not. POST /dnc/lookup/ answers the same with
the number in the body, for clients that keep numbers out of URLs.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.phones import InvalidPhoneNumber, to_e164
from dialer.acts.optout import dnc_request_record
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import PhoneField
from dialer.api.errors import ApiError
from dnc.selectors import dnc_status


class DncInput(serializers.Serializer):  # type: ignore[type-arg]
    """Only the number is needed: an opt-out is never refused for its wording (API.md)."""

    number = PhoneField()
    source = serializers.CharField(  # type: ignore[assignment]
        required=False,
        allow_blank=True,
        allow_null=True,
        default="api",
        help_text="Where the request came from; truncated to 50 characters.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Kept encrypted; truncated to 500 characters.",
    )


class DncLookupInput(serializers.Serializer):  # type: ignore[type-arg]
    number = PhoneField()


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
    """An opt-out: idempotent (a repeat finds the entry and changes nothing)."""

    permission_classes = [IsApiClient]
    accepts_inactive_program = True

    @extend_schema(request=DncInput, responses={201: DncOutput})
    def post(self, request: Request) -> Response:
        data = DncInput(data=request.data)
        data.is_valid(raise_exception=True)
        who = principal(request)
        fields = data.validated_data
        dnc_request_record(
            number=fields["number"],
            source=fields["source"] or "api",
            note=fields["note"] or "",
            actor=who.actor,
            program_id=who.program.pk,
        )
        return Response(_status(fields["number"]), status=status.HTTP_201_CREATED)


class DncLookup(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=DncLookupInput, responses=DncOutput)
    def post(self, request: Request) -> Response:
        data = DncLookupInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_status(data.validated_data["number"]))


class DncDetail(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(
        responses=DncOutput,
        parameters=[
            OpenApiParameter(
                "number",
                str,
                OpenApiParameter.PATH,
                description="A US number in any common format (redacted from our logs).",
            )
        ],
    )
    def get(self, request: Request, number: str) -> Response:
        try:
            e164 = to_e164(number)
        except InvalidPhoneNumber as exc:
            raise ApiError.for_field("number", str(exc)) from None
        return Response(_status(e164))
