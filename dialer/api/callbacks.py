"""POST /callbacks/ with Idempotency-Key: a repeat answers the same task."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact, Queue
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import DecisionSerializer, PhoneField
from dialer.api.errors import ApiError
from dialer.api.tasks import TaskOutput
from dialer.callbacks import CallbackError, callback_request
from dialer.models import CallTask, IdempotencyKey

# Documented in API.md terms: a key answers the same task for 24 hours.
IDEMPOTENCY_TTL = timedelta(hours=24)


class CallbackInput(serializers.Serializer):  # type: ignore[type-arg]
    phone = PhoneField(required=False)
    contact = serializers.IntegerField(required=False, min_value=1)
    queue = serializers.SlugField(required=False)
    requested_at = serializers.DateTimeField(required=False)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    state = serializers.RegexField(r"^([A-Za-z]{2})?$", required=False, allow_blank=True, default="")
    postal_code = serializers.RegexField(r"^(\d{5}(-\d{4})?)?$", required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if "phone" not in attrs and "contact" not in attrs:
            raise serializers.ValidationError({"phone": "Give a phone or a contact."})
        return attrs


class CallbackOutput(serializers.Serializer):  # type: ignore[type-arg]
    task = TaskOutput()
    decision = DecisionSerializer(allow_null=True)
    created = serializers.BooleanField()


def _body_hash(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class CallbackCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(
        request=CallbackInput,
        responses={200: CallbackOutput, 201: CallbackOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Repeat a request safely for 24 hours; another body under the same key answers 409.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        who = principal(request)
        key = request.headers.get("Idempotency-Key", "").strip()[:200]
        body_hash = _body_hash(request.data)
        if key:
            replay = self._replay(who.client.pk, key, body_hash)
            if replay is not None:
                return replay
        data = CallbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        queue = None
        if fields.get("queue"):
            queue = Queue.objects.filter(program=who.program, slug=fields["queue"]).first()
            if queue is None:
                raise ApiError("invalid", "Invalid input: queue.", fields={"queue": ["Unknown queue."]})
        contact = None
        if fields.get("contact"):
            contact = Contact.objects.filter(program=who.program, pk=fields["contact"]).first()
            if contact is None:
                raise ApiError("invalid", "Invalid input: contact.", fields={"contact": ["Unknown contact."]})
        from dialer.tasks import dispatch

        try:
            with transaction.atomic():
                result = callback_request(
                    program=who.program,
                    actor=who.actor,
                    origin="api",
                    enqueue=dispatch.delay,
                    queue=queue,
                    contact=contact,
                    phone=fields.get("phone"),
                    requested_at=fields.get("requested_at"),
                    source=fields["source"],
                    state=fields["state"].upper(),
                    postal_code=fields["postal_code"],
                )
                if key:
                    IdempotencyKey.objects.filter(
                        client=who.client, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
                    ).delete()
                    IdempotencyKey.objects.create(
                        client=who.client, key=key, request_hash=body_hash, task=result.task, created_at=timezone.now()
                    )
        except CallbackError as exc:
            raise ApiError("invalid", f"Invalid input: {exc.field}.", fields={exc.field: [str(exc)]}) from None
        except IntegrityError:
            # The same key raced in from another request: answer as a replay.
            replay = self._replay(who.client.pk, key, body_hash) if key else None
            if replay is None:
                raise
            return replay
        body = {
            "task": TaskOutput(result.task).data,
            "decision": result.decision.to_dict() if result.decision else result.task.last_decision or None,
            "created": result.created,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def _replay(self, client_id: int, key: str, body_hash: str) -> Response | None:
        stored = (
            IdempotencyKey.objects.filter(
                client_id=client_id, key=key, created_at__gte=timezone.now() - IDEMPOTENCY_TTL
            )
            .select_related("task")
            .first()
        )
        if stored is None:
            return None
        if stored.request_hash != body_hash:
            raise ApiError(
                "idempotency_key_reused",
                "This Idempotency-Key was used with another body.",
                http_status=409,
                fields={"Idempotency-Key": ["Used with another body."]},
            )
        task = CallTask.objects.select_related("queue").get(pk=stored.task_id)
        return Response(
            {"task": TaskOutput(task).data, "decision": task.last_decision or None, "created": False},
            status=status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"},
        )
