"""GET /tasks/ and GET /tasks/{id}/: a task's status, attempts and last decision."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dialer.api.auth import IsApiClient, principal
from dialer.api.common import DecisionSerializer, Pagination
from dialer.api.filtering import StrictFilterSet
from dialer.models import CallAttempt, CallTask


class AttemptOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = CallAttempt
        fields = [
            "id",
            "attempt_number",
            "started_at",
            "ended_at",
            "outcome",
            "duration_seconds",
            "backend",
        ]


class TaskOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    queue = serializers.CharField(source="queue.slug")
    contact = serializers.IntegerField(source="contact_id")
    attempts = serializers.IntegerField()
    attempt_list = AttemptOutput(many=True, source="attempt_set.all")
    last_decision = DecisionSerializer(allow_null=True)

    class Meta:
        model = CallTask
        fields = [
            "id",
            "queue",
            "contact",
            "status",
            "closed_reason",
            "next_attempt_at",
            "attempts",
            "attempt_list",
            "last_decision",
            "origin",
            "source",
            "requested_at",
            "appointment_at",
            "created_at",
        ]

    def to_representation(self, instance: CallTask) -> dict[str, Any]:
        return task_representation(instance)


def task_representation(
    task: CallTask, *, attempts: Iterable[CallAttempt] | None = None
) -> dict[str, Any]:
    """What TaskOutput answers for a task, built directly: a serializer's fields cost
    more to set up for one task than the whole answer. `attempts`: the task's, when the
    caller knows them (a task just created has none), else read from `attempt_set`."""
    listed = task.attempt_set.all() if attempts is None else attempts
    return {
        "id": task.pk,
        "queue": task.queue.slug,
        "contact": task.contact_id,
        "status": _text(task.status),
        "closed_reason": _text(task.closed_reason),
        "next_attempt_at": _when(task.next_attempt_at),
        "attempts": task.attempts,
        "attempt_list": [
            {
                "id": attempt.pk,
                "attempt_number": attempt.attempt_number,
                "started_at": _when(attempt.started_at),
                "ended_at": _when(attempt.ended_at),
                "outcome": _text(attempt.outcome),
                "duration_seconds": attempt.duration_seconds,
                "backend": _text(attempt.backend),
            }
            for attempt in listed
        ],
        "last_decision": task.last_decision or None,
        "origin": _text(task.origin),
        "source": _text(task.source),
        "requested_at": _when(task.requested_at),
        "appointment_at": _when(task.appointment_at),
        "created_at": _when(task.created_at),
    }


def _text(value: str | None) -> str | None:
    return None if value is None else str(value)


def _when(value: datetime | None) -> str | None:
    """A time as DRF's DateTimeField answers it: ISO 8601 in the current zone (UTC as Z)."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TaskFilter(StrictFilterSet):
    queue = filters.CharFilter(field_name="queue__slug")

    class Meta:
        model = CallTask
        fields = ["status", "queue", "origin"]


def _tasks(request: Request) -> Any:
    return (
        CallTask.objects.filter(queue__program=principal(request).program)
        .select_related("queue")
        .prefetch_related("attempt_set")
    )


class TaskList(generics.GenericAPIView):  # type: ignore[type-arg]
    pagination_class = Pagination
    permission_classes = [IsApiClient]
    serializer_class = TaskOutput
    filterset_class = TaskFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return CallTask.objects.none()
        return _tasks(self.request).order_by("-id")

    @extend_schema(responses=TaskOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TaskOutput(page, many=True).data)


class TaskDetail(generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = [IsApiClient]
    serializer_class = TaskOutput

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return CallTask.objects.none()
        return _tasks(self.request)

    @extend_schema(responses=TaskOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TaskOutput(self.get_object()).data)
