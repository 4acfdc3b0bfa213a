"""POST /eligibility/: the decision for a contact or a bare number at an instant; writes nothing."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import PatientStatus
from dialer.acts.eligibility import EligibilityError, eligibility_decide
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import (
    DecisionSerializer,
    IdField,
    PhoneField,
    PostalCodeField,
    StateField,
)
from dialer.api.errors import ApiError


class EligibilityInput(serializers.Serializer):  # type: ignore[type-arg]
    queue = serializers.SlugField()
    contact = IdField(required=False)
    phone = PhoneField(required=False)
    state = StateField()
    postal_code = PostalCodeField()
    patient_status = serializers.ChoiceField(
        choices=PatientStatus.choices,
        required=False,
        help_text="Counts only when stricter than the one on file (none -> current -> former).",
    )
    at = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if "phone" not in attrs and "contact" not in attrs:
            raise serializers.ValidationError({"phone": "Give a phone or a contact."})
        return attrs


class Eligibility(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=EligibilityInput, responses=DecisionSerializer)
    def post(self, request: Request) -> Response:
        data = EligibilityInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        program = principal(request).program
        try:
            decision = eligibility_decide(
                program=program,
                queue_slug=fields["queue"],
                at=fields.get("at") or timezone.now(),
                contact_id=fields.get("contact"),
                phone=fields.get("phone"),
                state=fields["state"],
                postal_code=fields["postal_code"],
                patient_status=fields.get("patient_status"),
            )
        except EligibilityError as exc:
            raise ApiError.for_field(exc.field, exc.message) from None
        return Response(decision.to_dict())
