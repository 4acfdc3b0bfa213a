"""Keyed hashes for lookups of encrypted values (uniqueness and search without clear text)."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def keyed_hash(value: str, *, purpose: str = "phone") -> str:
    """HMAC-SHA256 of `value` under FIELD_HASH_KEY, separated by `purpose`; hex, 64 chars."""
    key = settings.FIELD_HASH_KEY.encode()
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
