"""Many due callback tasks at once, for the benchmarks and the chaos test (bulk inserts)."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np

from campaigns.models import Contact, PhoneNumber, Queue
from dialer.models import CallTask


def due_callbacks_create(
    *,
    queue: Queue,
    contacts: Sequence[Contact],
    numbers: Sequence[str],
    requested_at: datetime,
    due_at: datetime,
) -> list[CallTask]:
    """One phone (E.164, mobile) and one pending task per unsaved contact, in three bulk inserts."""
    saved = Contact.objects.bulk_create(contacts, batch_size=5000)
    phones = [
        PhoneNumber(contact=c, number=e164, line_type="mobile")
        for c, e164 in zip(saved, numbers, strict=True)
    ]
    for phone in phones:
        phone.derive()
    PhoneNumber.objects.bulk_create(phones, batch_size=5000)
    return CallTask.objects.bulk_create(
        [
            CallTask(
                contact=c,
                phone=p,
                number_hash=p.number_hash,
                queue=queue,
                origin="api",
                requested_at=requested_at,
                next_attempt_at=due_at,
            )
            for c, p in zip(saved, phones, strict=True)
        ],
        batch_size=5000,
    )


def registry_seed(rng: random.Random, numbers: list[str]) -> None:
    """A national list of the bench's area codes (a tenth of the contacts on it) and a
    Florida list, loaded as production loads them, and the index a server reads."""
    from audit.actors import actor_system
    from bench.dnc_data import write_numbers
    from dnc.index import index_build
    from dnc.registry.load import RegistryInput, registry_load

    keys = np.array([int(n[2:]) for n in rng.sample(numbers, len(numbers) // 10)], np.int64)
    codes = sorted({int(n[2:5]) for n in numbers})
    others = np.array(
        [rng.choice(codes) * 10_000_000 + rng.randint(2_000_000, 9_999_999) for _ in range(50_000)],
        np.int64,
    )
    national = np.unique(np.concatenate([keys, others]))
    with tempfile.TemporaryDirectory() as work:
        for source, listed in (("national", national), ("state:FL", national[::7])):
            path = Path(work) / f"{source.replace(':', '_')}.txt"
            write_numbers(path, listed)
            registry_load(
                source=source,
                kind="full",
                inputs=[RegistryInput(path)],
                as_of=date.today(),
                actor=actor_system("bench"),
            )
    index_build()
