"""POST /appointments/ and POST /appointments/{external_id}/cancel/.

The EMR's `external_id` is the key: a repeat with the same id updates the
appointment and moves its reminder (200), never a second reminder.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact
from campaigns.selectors import queue_by_slug
from dialer.acts.appointments import AppointmentError, appointment_cancel, appointment_record
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import AwareDateTimeField, DecisionSerializer, IdField, PhoneField
from dialer.api.errors import ApiError
from dialer.api.tasks import TaskOutput
from dialer.models import Appointment, CallTask


class AppointmentInput(serializers.Serializer):  # type: ignore[type-arg]
    external_id = serializers.RegexField(r"^[^/]+$", max_length=100)
    contact = IdField()
    starts_at = AwareDateTimeField()
    queue = serializers.SlugField(max_length=50)
    phone = PhoneField(required=False)


class AppointmentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    contact = serializers.IntegerField(source="contact_id")
    queue = serializers.CharField(source="queue.slug")
    phone = serializers.CharField(source="phone.number")
    task = serializers.IntegerField(source="task_id", allow_null=True)

    class Meta:
        model = Appointment
        fields = ["id", "external_id", "contact", "starts_at", "queue", "phone", "status", "task"]


def _or_null(component: str) -> dict[str, Any]:
    # OpenAPI 3.0 validators ignore `nullable` beside a bare `allOf`: say "this or null".
    return {"anyOf": [{"$ref": f"#/components/schemas/{component}"}, {"enum": [None]}]}


@extend_schema_field(_or_null("TaskOutput"))
class _TaskOrNull(TaskOutput):
    pass


@extend_schema_field(_or_null("Decision"))
class _DecisionOrNull(DecisionSerializer):
    pass


class AppointmentAnswer(serializers.Serializer):  # type: ignore[type-arg]
    appointment = AppointmentOutput()
    task = _TaskOrNull(allow_null=True)
    decision = _DecisionOrNull(allow_null=True)
    detail = serializers.CharField(help_text="Why no reminder is queued; empty when one is.")


class AppointmentCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(
        request=AppointmentInput, responses={200: AppointmentAnswer, 201: AppointmentAnswer}
    )
    def post(self, request: Request) -> Response:
        data = AppointmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        who = principal(request)
        queue = queue_by_slug(who.program, fields["queue"])
        if queue is None:
            raise ApiError.for_field("queue", "Unknown queue.")
        contact = Contact.objects.filter(program=who.program, pk=fields["contact"]).first()
        if contact is None:
            raise ApiError.for_field("contact", "Unknown contact.")
        try:
            result = appointment_record(
                program=who.program,
                actor=who.actor,
                origin="api",
                external_id=fields["external_id"],
                contact=contact,
                starts_at=fields["starts_at"],
                queue=queue,
                phone=fields.get("phone"),
            )
        except AppointmentError as exc:
            raise ApiError.for_field(
                exc.field, str(exc), http_status=409 if exc.conflict else 400
            ) from None
        task = (
            CallTask.objects.select_related("queue")
            .prefetch_related("attempt_set")
            .get(pk=result.task.pk)
            if result.task is not None
            else None
        )
        body = {
            "appointment": AppointmentOutput(result.appointment).data,
            "task": TaskOutput(task).data if task is not None else None,
            "decision": result.decision.to_dict() if result.decision is not None else None,
            "detail": result.detail,
        }
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(body, status=code)


class AppointmentCancel(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=None, responses=AppointmentOutput)
    def post(self, request: Request, external_id: str) -> Response:
        who = principal(request)
        appointment = appointment_cancel(
            program=who.program, external_id=external_id, actor=who.actor
        )
        if appointment is None:
            raise ApiError.not_found()
        return Response(AppointmentOutput(appointment).data)
