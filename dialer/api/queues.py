"""GET/POST /queues/ and GET/PATCH /queues/{slug}/ (writes need the manager role)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import MAX_REMIND_BEFORE_HOURS, Purpose, Queue
from campaigns.services import queue_create, queue_update
from dialer.api.auth import IsApiClient, IsManager, principal
from dialer.api.common import HourMinuteField, Pagination, WeekdaysField
from dialer.api.errors import ApiError
from dialer.api.filtering import StrictFilterSet


class QueueOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    window_start = HourMinuteField()
    window_end = HourMinuteField()
    days = WeekdaysField()
    consent_basis = serializers.CharField()
    script = serializers.CharField(source="current_script.body", allow_null=True, default=None)
    script_version = serializers.IntegerField(
        source="current_script.version", allow_null=True, default=None
    )
    paused_reason = serializers.CharField()
    script_promotional = serializers.BooleanField(
        source="current_script.promotional", default=False, read_only=True
    )

    class Meta:
        model = Queue
        fields = [
            "slug",
            "name",
            "purpose",
            "consent_basis",
            "window_start",
            "window_end",
            "days",
            "max_attempts",
            "retry_minutes",
            "remind_before_hours",
            "script",
            "script_version",
            "script_promotional",
            "active",
            "paused_reason",
        ]


class QueueInput(serializers.Serializer):  # type: ignore[type-arg]
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200)
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    window_start = HourMinuteField(required=False)
    window_end = HourMinuteField(required=False)
    days = WeekdaysField(required=False)
    max_attempts = serializers.IntegerField(min_value=1, max_value=20, required=False)
    retry_minutes = serializers.IntegerField(min_value=1, max_value=60 * 24 * 30, required=False)
    remind_before_hours = serializers.IntegerField(
        min_value=1, max_value=MAX_REMIND_BEFORE_HOURS, required=False
    )
    script = serializers.CharField(max_length=20000)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("window_start"), attrs.get("window_end")
        if start is not None and end is not None and start >= end:
            raise serializers.ValidationError({"window_end": "Must be after window_start."})
        return attrs


class QueuePatch(QueueInput):
    slug = None  # type: ignore[assignment]
    purpose = None  # type: ignore[assignment]  # the purpose fixes the consent basis: make a new queue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class QueueFilter(StrictFilterSet):
    class Meta:
        model = Queue
        fields = ["purpose", "active"]


def _queues(request: Request) -> Any:
    return Queue.objects.filter(program=principal(request).program).select_related("current_script")


class QueueList(generics.GenericAPIView):  # type: ignore[type-arg]
    pagination_class = Pagination
    permission_classes = [IsApiClient]
    filterset_class = QueueFilter
    serializer_class = QueueOutput

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Queue.objects.none()
        return _queues(self.request).order_by("slug")

    def get_permissions(self) -> list[Any]:
        return [IsManager()] if self.request.method == "POST" else [IsApiClient()]

    @extend_schema(responses=QueueOutput(many=True))
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(QueueOutput(page, many=True).data)

    @extend_schema(request=QueueInput, responses={201: QueueOutput})
    def post(self, request: Request) -> Response:
        data = QueueInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        who = principal(request)
        if Queue.objects.filter(program=who.program, slug=fields["slug"]).exists():
            raise ApiError.for_field("slug", "Already used in this program.", http_status=409)
        try:
            with transaction.atomic():
                queue = queue_create(program=who.program, actor=who.actor, **fields)
        except IntegrityError:
            raise ApiError.for_field(
                "slug", "Already used in this program.", http_status=409
            ) from None
        return Response(QueueOutput(queue).data, status=status.HTTP_201_CREATED)


class QueueDetail(generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = QueueOutput
    lookup_field = "slug"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Queue.objects.none()
        return _queues(self.request)

    def get_permissions(self) -> list[Any]:
        return [IsManager()] if self.request.method == "PATCH" else [IsApiClient()]

    @extend_schema(responses=QueueOutput)
    def get(self, request: Request, slug: str) -> Response:
        return Response(QueueOutput(self.get_object()).data)

    @extend_schema(request=QueuePatch, responses=QueueOutput)
    def patch(self, request: Request, slug: str) -> Response:
        queue = self.get_object()
        data = QueuePatch(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        start = fields.get("window_start", queue.window_start)
        end = fields.get("window_end", queue.window_end)
        if start >= end:
            raise ApiError.for_field("window_end", "Must be after window_start.")
        queue = queue_update(queue=queue, actor=principal(request).actor, **fields)
        return Response(QueueOutput(queue).data)
