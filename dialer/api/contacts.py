"""POST /contacts/, GET and PATCH /contacts/{id}/.

A repeat under the same `external_id` that says the same thing answers the
contact first created (200); one that says something else answers 409.
PATCH only ever makes the patient status stricter (none -> current -> former):
a lower one is a 400 naming `patient_status` (a compliance officer lowers it
in the admin, audited).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact, LineType, PatientStatus
from campaigns.services import PhoneInput, contact_update
from dialer.acts.crm import CrmRecordError, contact_record
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import PhoneField, PostalCodeField, StateField
from dialer.api.errors import ApiError


class PhoneIn(serializers.Serializer):  # type: ignore[type-arg]
    number = PhoneField()
    line_type = serializers.ChoiceField(choices=LineType.choices, required=False)
    provided_by_patient = serializers.BooleanField(default=False)


def _text(max_length: int) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, default=""
    )


class ContactInput(serializers.Serializer):  # type: ignore[type-arg]
    external_id = _text(100)
    first_name = _text(100)
    last_name = _text(100)
    phones = PhoneIn(many=True, allow_empty=False, max_length=20)  # type: ignore[call-arg]
    state = StateField()
    postal_code = PostalCodeField()
    patient_status = serializers.ChoiceField(choices=PatientStatus.choices, default="none")


class ContactPatch(serializers.Serializer):  # type: ignore[type-arg]
    patient_status = serializers.ChoiceField(
        choices=PatientStatus.choices,
        required=False,
        help_text="Only stricter than the one on file: none -> current -> former.",
    )
    state = StateField(default=serializers.empty, help_text="Blank: unchanged.")
    postal_code = PostalCodeField(default=serializers.empty, help_text="Blank: unchanged.")
    phones = PhoneIn(many=True, required=False, max_length=20, help_text="Numbers to add.")  # type: ignore[call-arg]


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

    @extend_schema(request=ContactInput, responses={200: ContactOutput, 201: ContactOutput})
    def post(self, request: Request) -> Response:
        data = ContactInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        who = principal(request)
        phones = [PhoneInput(**p) for p in fields.pop("phones")]
        try:
            recorded = contact_record(program=who.program, actor=who.actor, phones=phones, **fields)
        except CrmRecordError as exc:
            raise ApiError.for_field(
                exc.field, str(exc), http_status=409 if exc.conflict else 400
            ) from None
        return Response(
            ContactOutput(recorded.obj).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


class ContactDetail(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(responses=ContactOutput)
    def get(self, request: Request, pk: int) -> Response:
        contact = Contact.objects.filter(program=principal(request).program, pk=pk).first()
        if contact is None:
            raise ApiError.not_found()
        return Response(ContactOutput(contact).data)

    @extend_schema(request=ContactPatch, responses=ContactOutput)
    def patch(self, request: Request, pk: int) -> Response:
        who = principal(request)
        contact = Contact.objects.filter(program=who.program, pk=pk).first()
        if contact is None:
            raise ApiError.not_found()
        data = ContactPatch(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        # A lower status is a ValidationError naming `patient_status`: a 400 (api.errors).
        contact = contact_update(
            contact=contact,
            actor=who.actor,
            patient_status=fields.get("patient_status"),
            state=fields.get("state"),
            postal_code=fields.get("postal_code"),
            phones=[PhoneInput(**p) for p in fields.get("phones", [])],
        )
        return Response(ContactOutput(contact).data)
