"""POST /attempts/: a call made outside the system; it counts toward caps.

A repeat of the same call (same task, or contact, queue and number; same
`started_at` and `outcome`) answers the attempt first recorded, with 200.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dialer.acts.crm import CrmRecordError, external_attempt_record
from dialer.api.auth import INACTIVE_PROGRAM, IsApiClient, principal
from dialer.api.common import IdField, PhoneField
from dialer.api.errors import ApiError
from dialer.api.tasks import AttemptOutput
from dialer.models import Outcome

CLOCK_SKEW = timedelta(minutes=5)  # a CRM's clock may run a little ahead of ours
EXTERNAL_OUTCOMES = [o for o in Outcome.values if o != Outcome.WITHDRAWN]


class AttemptInput(serializers.Serializer):  # type: ignore[type-arg]
    task = IdField(required=False)
    contact = IdField(required=False)
    queue = serializers.SlugField(required=False)
    number = PhoneField(required=False)
    started_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=EXTERNAL_OUTCOMES)
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86400, required=False)

    def validate_started_at(self, value: datetime) -> datetime:
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("Cannot be in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "task" not in attrs and not {"contact", "queue", "number"} <= set(attrs):
            raise serializers.ValidationError(
                {"task": "Give a task, or a contact, queue and number."}
            )
        return attrs


class AttemptCreate(APIView):
    permission_classes = [IsApiClient]
    accepts_inactive_program = True  # for `dnc_requested` only, see post()

    @extend_schema(request=AttemptInput, responses={200: AttemptOutput, 201: AttemptOutput})
    def post(self, request: Request) -> Response:
        data = AttemptInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        who = principal(request)
        if not who.program.active and fields["outcome"] != Outcome.DNC_REQUESTED:
            raise exceptions.PermissionDenied(INACTIVE_PROGRAM)
        try:
            recorded = external_attempt_record(
                program=who.program,
                actor=who.actor,
                started_at=fields["started_at"],
                outcome=fields["outcome"],
                duration_seconds=fields.get("duration_seconds"),
                task_id=fields.get("task"),
                contact_id=fields.get("contact"),
                queue_slug=fields.get("queue"),
                number=fields.get("number"),
            )
        except CrmRecordError as exc:
            raise ApiError.for_field(exc.field, str(exc)) from None
        return Response(
            AttemptOutput(recorded.obj).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )
