"""POST /eligibility/: the decision for a contact or a bare number at an instant; writes nothing."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact, PatientStatus, Queue
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import DecisionSerializer, PhoneField
from dialer.api.errors import ApiError
from dialer.eligibility import eligibility_decide


class EligibilityInput(serializers.Serializer):  # type: ignore[type-arg]
    queue = serializers.SlugField()
    contact = serializers.IntegerField(required=False, min_value=1)
    phone = PhoneField(required=False)
    state = serializers.RegexField(r"^([A-Za-z]{2})?$", required=False, allow_blank=True, default="")
    postal_code = serializers.RegexField(r"^(\d{5}(-\d{4})?)?$", required=False, allow_blank=True, default="")
    patient_status = serializers.ChoiceField(choices=PatientStatus.choices, required=False)
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
        queue = Queue.objects.filter(program=program, slug=fields["queue"]).first()
        if queue is None:
            raise ApiError("invalid", "Invalid input: queue.", fields={"queue": ["Unknown queue."]})
        contact = None
        if "contact" in fields:
            contact = Contact.objects.filter(program=program, pk=fields["contact"]).first()
            if contact is None:
                raise ApiError("invalid", "Invalid input: contact.", fields={"contact": ["Unknown contact."]})
        try:
            decision = eligibility_decide(
                program=program,
                queue=queue,
                at=fields.get("at") or timezone.now(),
                contact=contact,
                phone=fields.get("phone"),
                state=fields["state"].upper(),
                postal_code=fields["postal_code"],
                patient_status=fields.get("patient_status"),
            )
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            raise ApiError("invalid", f"Invalid input: {field}.", fields={field: [str(exc).split(": ", 1)[-1]]}) from None
        return Response(decision.to_dict())
