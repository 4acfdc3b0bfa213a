"""POST /contacts/ and GET /contacts/{id}/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact, LineType, PatientStatus
from campaigns.services import PhoneInput, contact_create
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import PhoneField
from dialer.api.errors import ApiError


class PhoneIn(serializers.Serializer):  # type: ignore[type-arg]
    number = PhoneField()
    line_type = serializers.ChoiceField(choices=LineType.choices, required=False)
    provided_by_patient = serializers.BooleanField(default=False)


class ContactInput(serializers.Serializer):  # type: ignore[type-arg]
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phones = PhoneIn(many=True, allow_empty=False)
    state = serializers.RegexField(r"^([A-Za-z]{2})?$", required=False, allow_blank=True, default="")
    postal_code = serializers.RegexField(r"^(\d{5}(-\d{4})?)?$", required=False, allow_blank=True, default="")
    patient_status = serializers.ChoiceField(choices=PatientStatus.choices, default="none")


class PhoneOut(serializers.Serializer):  # type: ignore[type-arg]
    number = serializers.CharField()
    line_type = serializers.CharField()
    provided_by_patient = serializers.BooleanField()


class ContactOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    first_name = serializers.CharField(allow_null=True)
    last_name = serializers.CharField(allow_null=True)
    phones = PhoneOut(many=True, source="phones.all")
    state = serializers.CharField()
    postal_code = serializers.CharField()
    patient_status = serializers.CharField()


class ContactCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=ContactInput, responses={201: ContactOutput})
    def post(self, request: Request) -> Response:
        data = ContactInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        who = principal(request)
        if fields["external_id"] and Contact.objects.filter(
            program=who.program, external_id=fields["external_id"]
        ).exists():
            raise ApiError(
                "conflict",
                "A contact with this external_id exists.",
                http_status=409,
                fields={"external_id": ["Already used in this program."]},
            )
        phones = [PhoneInput(**p) for p in fields.pop("phones")]
        contact = contact_create(program=who.program, phones=phones, actor=who.actor, **fields)
        return Response(ContactOutput(contact).data, status=status.HTTP_201_CREATED)


class ContactDetail(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(responses=ContactOutput)
    def get(self, request: Request, pk: int) -> Response:
        contact = Contact.objects.filter(program=principal(request).program, pk=pk).first()
        if contact is None:
            raise ApiError("not_found", "Not found.", http_status=404)
        return Response(ContactOutput(contact).data)
