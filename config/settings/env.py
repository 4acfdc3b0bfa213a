"""Strict reading of the environment: a bad value stops start-up and names the variable."""

from __future__ import annotations

import os
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def _fail(name: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}: {why}")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise _fail(name, "is required and not set")
        return default
    return value


def env_secret(name: str, default: str | None = None, min_length: int = 32) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (container secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().strip()
        except OSError as exc:
            raise _fail(f"{name}_FILE", f"cannot read the file ({exc.strerror})") from None
    else:
        value = env_str(name, default)
    if len(value) < min_length:
        raise _fail(name, f"must be at least {min_length} characters")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise _fail(name, f"must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _fail(name, f"must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise _fail(name, f"must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise _fail(name, "is required and not set")
        return default
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise _fail(name, "has an empty item in its comma-separated list")
    return items


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise _fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_database(name: str = "DATABASE_URL") -> dict[str, Any]:
    raw = env_str(name)
    try:
        config = environ.Env.db_url_config(raw)
    except Exception:
        raise _fail(name, "is not a valid database URL") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise _fail(name, "must be a PostgreSQL URL (postgres://...)")
    return config


def env_redis(name: str = "REDIS_URL") -> str:
    raw = env_str(name)
    if not raw.startswith(("redis://", "rediss://", "unix://", "redis+socket://")):
        raise _fail(name, "must be a redis:// URL")
    return raw
