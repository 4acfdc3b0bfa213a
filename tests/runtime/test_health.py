"""/health/: the database, the broker and a recent beat tick; 503 naming what fails."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from dialer.runtime.health import BEAT_KEY
from dialer.tasks import heartbeat
from tests.runtime.helpers import wait_for


@pytest.fixture
def no_tick() -> Iterator[None]:
    cache.delete(BEAT_KEY)
    yield
    cache.delete(BEAT_KEY)


def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health() -> tuple[int, dict[str, Any]]:
    response = Client().get("/health/")
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True)
def test_it_is_ok_once_beat_ticked_through_a_worker(no_tick: None, celery_worker: Any) -> None:
    status, body = _health()
    assert status == 503
    assert body["checks"] == {
        "database": "ok",
        "broker": "ok",
        "beat": "failing: no beat tick recorded yet",
        "audit": "ok",
    }
    heartbeat.delay()  # what beat sends every minute
    wait_for(lambda: cache.get(BEAT_KEY) is not None, timeout=5)
    status, body = _health()
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"] == {"database": "ok", "broker": "ok", "beat": "ok", "audit": "ok"}


@pytest.mark.django_db
def test_it_fails_when_the_last_tick_is_older_than_three_minutes(no_tick: None) -> None:
    ticked = timezone.now()
    cache.set(BEAT_KEY, ticked.isoformat(), timeout=None)
    with time_machine.travel(ticked + timedelta(minutes=2, seconds=59)):
        assert _health()[0] == 200
    with time_machine.travel(ticked + timedelta(minutes=3, seconds=1)):
        status, body = _health()
    assert status == 503
    assert body["checks"]["beat"] == "failing: the last beat tick is older than three minutes"
    assert body["checks"]["database"] == body["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_it_fails_when_the_broker_is_unreachable(no_tick: None) -> None:
    cache.set(BEAT_KEY, timezone.now().isoformat(), timeout=None)
    port = _closed_port()
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0"):
        status, body = _health()
    assert status == 503
    assert body["checks"]["broker"] == "failing: ConnectionError"
    assert str(port) not in str(body)  # no addresses on a public endpoint
    assert body["checks"]["database"] == body["checks"]["beat"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_it_fails_when_the_database_is_unreachable(no_tick: None) -> None:
    cache.set(BEAT_KEY, timezone.now().isoformat(), timeout=None)
    port = _closed_port()
    saved = connection.settings_dict["PORT"], connection.settings_dict["HOST"]
    connection.close()
    connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", port
    try:
        status, body = _health()
    finally:
        connection.close()
        connection.settings_dict["PORT"], connection.settings_dict["HOST"] = saved
    assert status == 503
    assert body["checks"]["database"] == "failing: OperationalError"
    assert body["checks"]["broker"] == body["checks"]["beat"] == "ok"
    assert str(port) not in str(body)


@pytest.mark.django_db
def test_it_answers_get_only_and_is_never_cached(no_tick: None) -> None:
    assert Client().post("/health/").status_code == 405
    response = Client().get("/health/")
    assert "no-cache" in response["Cache-Control"]
