"""Keyed hashes for lookups of encrypted values (uniqueness and search without clear text)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings


def keyed_hash(value: str, *, purpose: str = "phone") -> str:
    """HMAC-SHA256 of `value` under FIELD_HASH_KEY, separated by `purpose`; hex, 64 chars."""
    key = settings.FIELD_HASH_KEY.encode()
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def keyed_hasher(*, purpose: str = "phone") -> Callable[[str], str]:
    """`keyed_hash` for many values: the same digest, through the one-shot HMAC.

    For bulk loads: `hmac.digest` runs in OpenSSL without building an HMAC object
    per value.
    """
    key = settings.FIELD_HASH_KEY.encode()
    prefix = f"{purpose}\x00".encode()

    def hash_one(value: str) -> str:
        return hmac.digest(key, prefix + value.encode(), "sha256").hex()

    return hash_one
