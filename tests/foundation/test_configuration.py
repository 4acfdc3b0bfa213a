"""Settings are strict: a bad value stops start-up and names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "s" * 50,
    "FIELD_ENCRYPTION_KEY": "f" * 40,
    "FIELD_HASH_KEY": "h" * 40,
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
}


def _start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(GOOD)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_environment_starts() -> None:
    result = _start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", None, "DATABASE_URL: is required"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: must be a PostgreSQL URL"),
        ("REDIS_URL", "http://h", "REDIS_URL: must be a redis:// URL"),
        ("SECRET_KEY", "short", "SECRET_KEY: must be at least 32"),
        ("SECRET_KEY", None, "SECRET_KEY: is required"),
        ("FIELD_ENCRYPTION_KEY", None, "FIELD_ENCRYPTION_KEY: is required"),
        ("FIELD_ENCRYPTION_KEY", "k" * 40 + ",", "FIELD_ENCRYPTION_KEY: has an empty item"),
        ("DEBUG", "maybe", "DEBUG: must be a boolean"),
        ("TELEPHONY_BACKEND", "carrier-pigeon", "TELEPHONY_BACKEND: must be one of"),
        ("ALLOWED_HOSTS", "a,,b", "ALLOWED_HOSTS: has an empty item"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    name: str, value: str | None, message: str
) -> None:
    result = _start(**{name: value})
    assert result.returncode != 0
    assert f"Environment variable {message}" in result.stderr
