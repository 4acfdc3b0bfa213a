"""POST /attempts/: a call made outside the system; it counts toward caps."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact, PhoneNumber, Queue
from campaigns.services import PhoneInput, phone_add
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import PhoneField
from dialer.api.errors import ApiError
from dialer.api.tasks import AttemptOutput
from dialer.models import CallAttempt, CallTask, Outcome, TaskOrigin, TaskStatus
from dialer.outcomes import attempt_outcome_record
from dialer.services import open_task_for, task_create

EXTERNAL_OUTCOMES = [o for o in Outcome.values if o != Outcome.WITHDRAWN]


class AttemptInput(serializers.Serializer):  # type: ignore[type-arg]
    task = serializers.IntegerField(required=False, min_value=1)
    contact = serializers.IntegerField(required=False, min_value=1)
    queue = serializers.SlugField(required=False)
    number = PhoneField(required=False)
    started_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=EXTERNAL_OUTCOMES)
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86400, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "task" not in attrs and not {"contact", "queue", "number"} <= set(attrs):
            raise serializers.ValidationError({"task": "Give a task, or a contact, queue and number."})
        return attrs


def _invalid(field: str, message: str) -> ApiError:
    return ApiError("invalid", f"Invalid input: {field}.", fields={field: [message]})


class AttemptCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(request=AttemptInput, responses={201: AttemptOutput})
    def post(self, request: Request) -> Response:
        data = AttemptInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        who = principal(request)
        with transaction.atomic():
            task = self._task(who.program, who.actor, fields)
            task = CallTask.objects.select_for_update().get(pk=task.pk)
            number = (task.attempt_set.aggregate(n=Max("attempt_number"))["n"] or 0) + 1
            attempt = CallAttempt.objects.create(
                task=task,
                phone=task.phone,
                attempt_number=number,
                started_at=fields["started_at"],
                backend="external",
            )
            task.attempts += 1
            task.last_attempt_at = max(filter(None, [task.last_attempt_at, fields["started_at"]]))
            task.status = TaskStatus.IN_PROGRESS
            task.save(update_fields=["attempts", "last_attempt_at", "status", "updated_at"])
            attempt = attempt_outcome_record(
                attempt_id=attempt.pk,
                outcome=fields["outcome"],
                duration_seconds=fields.get("duration_seconds"),
                actor=who.actor,
            )
        return Response(AttemptOutput(attempt).data, status=status.HTTP_201_CREATED)

    def _task(self, program: Any, actor: str, fields: dict[str, Any]) -> CallTask:
        if "task" in fields:
            task = CallTask.objects.filter(queue__program=program, pk=fields["task"]).first()
            if task is None:
                raise _invalid("task", "Unknown task.")
            if task.status not in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                raise _invalid("task", "This task is closed.")
            return task
        contact = Contact.objects.filter(program=program, pk=fields["contact"]).first()
        if contact is None:
            raise _invalid("contact", "Unknown contact.")
        queue = Queue.objects.filter(program=program, slug=fields["queue"]).first()
        if queue is None:
            raise _invalid("queue", "Unknown queue.")
        phone: PhoneNumber = phone_add(contact=contact, phone=PhoneInput(fields["number"]))
        existing = open_task_for(queue=queue, number_hash=phone.number_hash)
        if existing is not None:
            return existing
        return task_create(
            contact=contact, phone=phone, queue=queue, origin=TaskOrigin.API, actor=actor, source="external"
        )
