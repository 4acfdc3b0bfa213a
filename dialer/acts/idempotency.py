"""A request sent again answers what the first one recorded: written once, for every write
a client may repeat.

Two ways to recognise a repeat:
- by what the request names (`recorded_once`): a contact's `external_id`, the
  same consent, the same outside call (dialer.acts.crm);
- by a key the client sends (`keyed_once`, `keyed_replay`): the
  `Idempotency-Key` of POST /callbacks/, kept 24 hours per API client, with a
  hash of the body so that the same key with another body is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from dialer.models import ApiClient, CallTask, IdempotencyKey

T = TypeVar("T")
R = TypeVar("R")

KEY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Recorded(Generic[T]):
    """The object, and whether this request created it (False: a repeat, answered as is)."""

    obj: T
    created: bool


class KeyReused(Exception):
    """The key was used, within its 24 hours, with another body."""


def recorded_once(
    *, find: Callable[[], T | None], create: Callable[[], T], repeat_of: Callable[[T], T]
) -> Recorded[T]:
    """Create, unless the request was recorded already.

    1. `find` the object the request names; found: `repeat_of` answers it (or
       raises when the request says something else).
    2. Otherwise `create` it in a savepoint.
    3. A unique constraint refused it: another request raced in first, so find
       it now and answer it as in 1.
    """
    found = find()
    if found is not None:
        return Recorded(repeat_of(found), created=False)
    try:
        with transaction.atomic():
            obj = create()
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return Recorded(repeat_of(found), created=False)
    return Recorded(obj, created=True)


def keyed_replay(*, client_id: int, key: str, request_hash: str) -> CallTask | None:
    """The task a repeat of this request answers; None when the key is new (or expired).

    Raises KeyReused when the key came with another body.
    """
    if not key:
        return None
    stored = IdempotencyKey.objects.filter(
        client_id=client_id, key=key, created_at__gte=timezone.now() - KEY_TTL
    ).first()
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise KeyReused
    return (
        CallTask.objects.select_related("queue")
        .prefetch_related("attempt_set")
        .get(pk=stored.task_id)
    )


def keyed_once(
    *,
    client: ApiClient,
    key: str,
    request_hash: str,
    create: Callable[[], R],
    task_of: Callable[[R], CallTask],
) -> Recorded[R] | Recorded[CallTask]:
    """Run `create` and keep the key with the task it made, in one transaction.

    1. Without a key there is nothing to recognise a repeat by: create.
    2. Otherwise create, drop an expired key of the same name, keep this one.
    3. The same key raced in from another request (the unique constraint): the
       work is rolled back and the first request's task answered.
    """
    if not key:
        return Recorded(create(), created=True)
    try:
        with transaction.atomic():
            result = create()
            now = timezone.now()
            IdempotencyKey.objects.filter(
                client=client, key=key, created_at__lt=now - KEY_TTL
            ).delete()
            IdempotencyKey.objects.create(
                client=client,
                key=key,
                request_hash=request_hash,
                task=task_of(result),
                created_at=now,
            )
    except IntegrityError:
        task = keyed_replay(client_id=client.pk, key=key, request_hash=request_hash)
        if task is None:
            raise
        return Recorded(task, created=False)
    return Recorded(result, created=True)
