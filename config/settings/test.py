"""Test settings: fixed keys, fast hashing; the servers are real (see scripts/devstack.py)."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-field-key-not-for-production-0123456789")
os.environ.setdefault("FIELD_HASH_KEY", "test-hash-key-not-for-production-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# A named point where a test's worker process kills itself (dialer/runtime/faults.py);
# production settings have no such point.
FAULT_POINT = os.environ.get("FAULT_POINT", "")
