"""GET /tasks/ and GET /tasks/{id}/: a task's status, attempts and last decision."""

from __future__ import annotations

from typing import Any

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
        data = super().to_representation(instance)
        data["last_decision"] = instance.last_decision or None
        return data


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
