"""A real Celery worker (threads, in this process) on the real Redis broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app


@pytest.fixture
def celery_worker(transactional_db: Any) -> Iterator[Any]:
    """Consume the dispatch and bulk queues while the test runs; purge them first."""
    celery_app.control.purge()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        queues=["dispatch", "bulk"],
        perform_ping_check=False,
        shutdown_timeout=30,
    ) as worker:
        yield worker
