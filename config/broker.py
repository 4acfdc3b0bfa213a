"""Celery's broker transport: kombu's Redis transport, publishing through one Redis
client per channel.

kombu's Redis channel builds a new client (`redis.Redis(connection_pool=...)`) for
each message it publishes: about a quarter of the CPU of a publish, such as a
callback's dispatch on commit. A client only borrows a connection from the
channel's pool for each command (and is safe to share between threads), so one per
channel and pool serves every publish. Celery's producer pool keeps the channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _publisher: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        publisher, pool = self._publisher, self.pool
        if publisher is None or publisher.connection_pool is not pool:
            publisher = self._publisher = self._create_client()  # type: ignore[attr-defined]
        yield publisher


class Transport(redis.Transport):
    Channel = Channel
