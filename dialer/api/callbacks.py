"""POST /callbacks/ with Idempotency-Key: a repeat answers the same task.

A key is kept for 24 hours per API client. A repeat with the same key and
the same body answers the task of the first request (header
`Idempotent-Replayed: true`); the same key with another body answers 409.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Contact
from campaigns.selectors import queue_by_slug
from dialer.acts.callbacks import CallbackError, callback_request
from dialer.acts.idempotency import KeyReused, keyed_once, keyed_replay
from dialer.api.auth import ApiPrincipal, IsApiClient, principal
from dialer.api.common import (
    DecisionSerializer,
    FlatInput,
    IdField,
    PhoneField,
    PostalCodeField,
    StateField,
)
from dialer.api.errors import ApiError
from dialer.api.tasks import TaskOutput, task_representation
from dialer.models import CallTask

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)  # a CRM's clock may run a little ahead of ours
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Visible ASCII, as HTTP header values should be; the model keeps 200 characters.
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")


class CallbackInput(FlatInput):
    phone = PhoneField(required=False)
    contact = IdField(required=False)
    queue = serializers.SlugField(required=False)
    requested_at = serializers.DateTimeField(required=False)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    state = StateField()
    postal_code = PostalCodeField()

    def validate_requested_at(self, value: datetime) -> datetime:
        # The request is the consent basis of the call, for a bounded time from it:
        # a date in the future would stretch that time.
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("Cannot be in the future.")
        return value

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


def _idempotency_key(request: Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return ""
    key = key.strip()
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise ApiError.for_field(IDEMPOTENCY_HEADER, "Use 1 to 200 visible ASCII characters.")
    return key


def _enqueue_dispatch(task_id: int) -> None:
    """Dispatch at once (speed to lead). The task is committed already: if the broker
    cannot take the message, the planner's next tick dispatches it (the database is
    the queue of record), so the answer stays 201."""
    from dialer.tasks import dispatch_soon

    try:
        dispatch_soon(task_id)
    except Exception as exc:  # any broker failure; the message may carry the broker's address
        log.warning(
            "dispatch of callback task %s not queued (%s): the planner will dispatch it",
            task_id,
            type(exc).__name__,
        )


class CallbackCreate(APIView):
    permission_classes = [IsApiClient]

    @extend_schema(
        request=CallbackInput,
        responses={200: CallbackOutput, 201: CallbackOutput},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description=(
                    "Repeat a request safely for 24 hours; another body under the same key "
                    "answers 409. 1 to 200 visible ASCII characters."
                ),
                pattern=r"^[\x21-\x7e]{1,200}$",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        who = principal(request)
        key = _idempotency_key(request)
        body_hash = _body_hash(request.data)
        try:
            return _created(request, who=who, key=key, body_hash=body_hash)
        except KeyReused:
            raise _key_reused() from None
        except APIException:
            # A repeat is answered by its key before what it says is judged. A new key
            # costs no read of its own: the work's transaction keeps it, or finds it kept.
            replayed = _keyed(
                lambda: keyed_replay(client_id=who.client.pk, key=key, request_hash=body_hash)
            )
            if replayed is None:
                raise
            return _replay(replayed)


def _created(request: Request, *, who: ApiPrincipal, key: str, body_hash: str) -> Response:
    """The callback made (201), or the open task that answers it (200); a repeat of a
    kept key rolls its work back and answers the first request's task."""
    data = CallbackInput(data=request.data)
    data.is_valid(raise_exception=True)
    fields = data.validated_data
    queue = None
    if fields.get("queue"):
        queue = queue_by_slug(who.program, fields["queue"])
        if queue is None:
            raise ApiError.for_field("queue", "Unknown queue.")
    contact = None
    if fields.get("contact"):
        # Names are not needed: one that no key decrypts must not lose the lead.
        contact = (
            Contact.objects.filter(program=who.program, pk=fields["contact"])
            .defer("first_name", "last_name")
            .first()
        )
        if contact is None:
            raise ApiError.for_field("contact", "Unknown contact.")
    try:
        once = keyed_once(
            client=who.client,
            key=key,
            request_hash=body_hash,
            task_of=lambda result: result.task,
            create=lambda: callback_request(
                program=who.program,
                actor=who.actor,
                origin="api",
                enqueue=_enqueue_dispatch,
                queue=queue,
                contact=contact,
                phone=fields.get("phone"),
                requested_at=fields.get("requested_at"),
                source=fields["source"],
                state=fields["state"],
                postal_code=fields["postal_code"],
            ),
        )
    except CallbackError as exc:
        raise ApiError.for_field(exc.field, str(exc)) from None
    if isinstance(once.obj, CallTask):  # a repeat: the key is kept with the first one's task
        return _replay(once.obj)
    result = once.obj
    decision = result.decision.to_dict() if result.decision else None
    body = {
        # A task created now has no attempts; one found open is answered as it is.
        "task": task_representation(result.task, attempts=() if result.created else None),
        "decision": decision or result.task.last_decision or None,
        "created": result.created,
    }
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(body, status=code)


def _keyed(replay: Callable[[], CallTask | None]) -> CallTask | None:
    try:
        return replay()
    except KeyReused:
        raise _key_reused() from None


def _key_reused() -> ApiError:
    return ApiError(
        "idempotency_key_reused",
        "This Idempotency-Key was used with another body.",
        http_status=409,
        fields={IDEMPOTENCY_HEADER: ["Used with another body."]},
    )


def _replay(task: CallTask) -> Response:
    return Response(
        {"task": TaskOutput(task).data, "decision": task.last_decision or None, "created": False},
        status=status.HTTP_201_CREATED,
        headers={"Idempotent-Replayed": "true"},
    )
