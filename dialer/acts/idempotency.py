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

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dialer.models import ApiClient, CallTask

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


# Read and written on every keyed callback, so in plain SQL (no queryset to compile).
_STORED = (
    "SELECT request_hash, task_id FROM dialer_idempotencykey"
    " WHERE client_id = %s AND key = %s AND created_at >= %s"
)
# Keep the key; an expired one of the same name is replaced in the same statement. No
# row back: the key is held, live, by another request (committed while this one waited).
_KEEP = """
INSERT INTO dialer_idempotencykey (client_id, key, request_hash, task_id, created_at)
VALUES (%(client)s, %(key)s, %(hash)s, %(task)s, %(now)s)
ON CONFLICT ON CONSTRAINT idempotency_key_per_client DO UPDATE
   SET request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id,
       created_at = EXCLUDED.created_at
 WHERE dialer_idempotencykey.created_at < %(expired)s
RETURNING id
"""


class _KeyTaken(Exception):
    """Another request holds the key: this one's work is rolled back."""


def keyed_replay(*, client_id: int, key: str, request_hash: str) -> CallTask | None:
    """The task a repeat of this request answers; None when the key is new (or expired).

    Raises KeyReused when the key came with another body.
    """
    if not key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_STORED, [client_id, key, timezone.now() - KEY_TTL])
        stored = cursor.fetchone()
    if stored is None:
        return None
    stored_hash, task_id = stored
    if stored_hash != request_hash:
        raise KeyReused
    return CallTask.objects.select_related("queue").prefetch_related("attempt_set").get(pk=task_id)


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
    2. Otherwise create, and keep the key (replacing an expired one of the same name).
    3. The key is held, live (a repeat, or the same key raced in from another
       request): the work is rolled back and the first request's task answered, or
       KeyReused raised when that request had another body.

    A new key, the common case, is read by nothing but its own INSERT; a caller that
    refuses a request before its work asks `keyed_replay` then.
    """
    if not key:
        return Recorded(create(), created=True)
    try:
        with transaction.atomic():
            result = create()
            now = timezone.now()
            with connection.cursor() as cursor:
                cursor.execute(
                    _KEEP,
                    {
                        "client": client.pk,
                        "key": key,
                        "hash": request_hash,
                        "task": task_of(result).pk,
                        "now": now,
                        "expired": now - KEY_TTL,
                    },
                )
                if cursor.fetchone() is None:
                    raise _KeyTaken
    except (IntegrityError, _KeyTaken):
        task = keyed_replay(client_id=client.pk, key=key, request_hash=request_hash)
        if task is None:
            raise
        return Recorded(task, created=False)
    return Recorded(result, created=True)
