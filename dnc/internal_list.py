"""The internal list in this process: the active entries, as a set of keys kept current by seq.

A scrub of many numbers reads the list from this copy, brought up to date from
PostgreSQL on every call (by `seq`, which follows commit order): only the rows
past the copy's `seq` are read and decrypted. Each entry counts by its keyed
hash, so an entry whose number no key decrypts still lists it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from common.crypto import keyed_hash
from common.fields import field_of, token_of
from dnc.keys import Keys, KeySet, Mask, e164_from_key, key_from_e164
from dnc.models import InternalDncEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _InternalList:
    """The active internal entries, by keyed hash (every entry counts, readable or not).

    `keys` holds the numbers that decrypt to their own hash (the fast, vectorised
    path); `unread` the hashes of the entries whose number does not decrypt (a
    key rotated without its fallback): candidates not found among the keys are
    hashed and looked up there, so such an entry still blocks its number.
    """

    keys: KeySet
    unread: frozenset[str]
    hashes: frozenset[str]  # every active entry's keyed hash (a planner's numbers are hashes)

    def contains(self, keys: Keys) -> Mask:
        found = self.keys.contains(keys)
        if self.unread:
            for position in np.flatnonzero(~found).tolist():
                if keyed_hash(e164_from_key(int(keys[position]))) in self.unread:
                    found[position] = True
        return found

    def holds_hashes(self, number_hashes: Sequence[str]) -> list[bool]:
        """Whether each keyed hash is listed: the lookup for numbers that are not decrypted."""
        hashes = self.hashes
        return [h in hashes for h in number_hashes]


@dataclass(frozen=True)
class _InternalCopy:
    seq: int
    ids: frozenset[int]  # every entry seen, active or not
    active: Mapping[int, tuple[str, int]]  # entry id -> (number_hash, key; 0 when unread)
    listed: _InternalList


_EMPTY = _InternalCopy(
    seq=0,
    ids=frozenset(),
    active={},
    listed=_InternalList(KeySet(np.zeros(0, np.int64)), frozenset(), frozenset()),
)
_internal_lock = threading.Lock()
_internal: _InternalCopy = _EMPTY


def internal_set() -> _InternalList:
    """The active internal entries, as this transaction sees them.

    1. Read the table's fingerprint (row count, highest seq).
    2. Start from this process's copy, or from nothing if the table lost rows
       (only a TRUNCATE can do that: entries are never deleted).
    3. Read the rows past the copy's seq and apply them: each entry counts by
       its `number_hash`; its number is decrypted (only those rows) to serve
       the fast path, and an entry whose number does not decrypt to that hash
       is kept by hash alone, never skipped.
    4. Keep the result for the next call only when it holds committed rows
       alone, i.e. outside a transaction (inside one, own uncommitted writes show).
    """
    global _internal
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(seq), 0) FROM dnc_internaldncentry")
        count, top = cursor.fetchone()
    base = _internal
    if top < base.seq or len(base.ids) > count:
        base = _EMPTY
    if top == base.seq and len(base.ids) == count:
        return base.listed
    fresh = _apply(base, _rows_after(base.seq))
    if len(fresh.ids) != count:
        fresh = _apply(_EMPTY, _rows_after(0))
    if not connection.in_atomic_block:
        with _internal_lock:
            if fresh.seq >= _internal.seq:
                _internal = fresh
    return fresh.listed


def _rows_after(seq: int) -> list[tuple[Any, ...]]:
    # The number as stored (a token): one that no key decrypts must not stop the read.
    return list(
        InternalDncEntry.objects.filter(seq__gt=seq)
        .order_by("seq")
        .values_list("id", "number_hash", token_of("number"), "removed_at", "seq")
    )


def _readable_key(number_hash: str, token: str | None) -> int:
    """The key of an entry's number when it decrypts to its hash; 0 otherwise."""
    number = field_of(InternalDncEntry, "number").decrypted_or_none(token)
    if number is None or keyed_hash(number) != number_hash:
        return 0
    try:
        return key_from_e164(number)
    except ValueError:
        return 0


def _apply(base: _InternalCopy, rows: Sequence[tuple[Any, ...]]) -> _InternalCopy:
    if not rows:
        return base
    active = dict(base.active)
    for entry_id, number_hash, token, removed_at, _ in rows:
        if removed_at is None:
            active[entry_id] = (number_hash, _readable_key(number_hash, token))
        else:
            active.pop(entry_id, None)
    keys = np.fromiter((key for _, key in active.values() if key), np.int64)
    unread = frozenset(number_hash for number_hash, key in active.values() if not key)
    if unread:
        # Counted, never shown: an operator restores the key (SECRET_KEY_FALLBACKS).
        log.warning("%s active internal DNC entries do not decrypt; matched by hash", len(unread))
    return _InternalCopy(
        seq=max(base.seq, rows[-1][4]),
        ids=base.ids | {row[0] for row in rows},
        active=active,
        listed=_InternalList(
            KeySet(keys), unread, frozenset(number_hash for number_hash, _ in active.values())
        ),
    )
