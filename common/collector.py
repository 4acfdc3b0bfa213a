"""The cyclic garbage collector, paused while a batch is built in bulk."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block, and restore it after (nested: a no-op).

    Reading, deciding and writing back a batch creates no reference cycles (reference
    counting frees everything), but each of its 100,000 rows, facts and decisions
    counts toward collections that walk every live object: up to a third of the cost
    of building them. Anything cyclic made meanwhile is collected once it is restored.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
