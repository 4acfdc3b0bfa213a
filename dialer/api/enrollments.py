"""POST /enrollments/: contacts into a reactivation queue, each queued or refused with codes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.selectors import queue_by_slug
from dialer.acts.enrollments import MAX_CONTACTS, EnrollmentError, enrollment_create
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import IdField
from dialer.api.errors import ApiError
from dialer.decision import REASON_CODES


class EnrollmentInput(serializers.Serializer):  # type: ignore[type-arg]
    queue = serializers.SlugField(max_length=50)
    contacts = serializers.ListField(child=IdField(), allow_empty=False, max_length=MAX_CONTACTS)


class Queued(serializers.Serializer):  # type: ignore[type-arg]
    contact = serializers.IntegerField()
    task = serializers.IntegerField()


class Refused(serializers.Serializer):  # type: ignore[type-arg]
    contact = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=list(REASON_CODES)))


class EnrollmentOutput(serializers.Serializer):  # type: ignore[type-arg]
    queued = Queued(many=True)
    refused = Refused(many=True)


class EnrollmentCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=EnrollmentInput, responses={200: EnrollmentOutput})
    def post(self, request: Request) -> Response:
        data = EnrollmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        who = principal(request)
        queue = queue_by_slug(who.program, fields["queue"])
        if queue is None:
            raise ApiError.for_field("queue", "Unknown queue.")
        try:
            result = enrollment_create(
                program=who.program,
                queue=queue,
                contact_ids=fields["contacts"],
                actor=who.actor,
                origin="api",
            )
        except EnrollmentError as exc:
            raise ApiError.for_field(exc.field, str(exc)) from None
        return Response(
            {
                "queued": [{"contact": c, "task": t} for c, t in result.queued],
                "refused": [{"contact": c, "reasons": r} for c, r in result.refused],
            }
        )
