"""Many due callback tasks at once, for the benchmarks and the chaos test (COPY)."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from django.db import connection, models
from django.utils import timezone

from campaigns.models import Contact, PhoneNumber, Queue
from common.crypto import keyed_hasher
from common.phones import exchange_digits
from dialer.listings import registry_answers
from dialer.models import CallTask

M = TypeVar("M", bound=models.Model)
# Prepared values kept per field: the repeated ones (a program, a status, an empty name).
_PREPARED_LIMIT = 64


def copy_insert(objs: Sequence[M]) -> list[M]:
    """Insert unsaved instances of one model with COPY, as bulk_create would save them.

    1. Draw their ids from the table's sequence and set them on the instances.
    2. Give auto_now(_add) fields one instant for the whole batch.
    3. Prepare each field's value as Django saves it (encrypted fields encrypt), each
       repeated value once, and stream the rows with COPY.
    A million rows take a tenth of bulk_create's time.
    """
    if not objs:
        return []
    meta = type(objs[0])._meta
    fields = list(meta.concrete_fields)
    quote = connection.ops.quote_name
    now = timezone.now()
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            for field in stamped:
                setattr(obj, field.attname, now)
            obj._state.adding = False
            obj._state.db = connection.alias
        columns = ", ".join(quote(str(f.column)) for f in fields)
        prepared: list[dict[Any, Any]] = [{} for _ in fields]
        sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for obj in objs:
                row = []
                for field, cache in zip(fields, prepared, strict=True):
                    raw = getattr(obj, field.attname)
                    try:
                        value = cache[raw]
                    except (KeyError, TypeError):  # TypeError: unhashable (a JSON value)
                        value = field.get_db_prep_save(raw, connection)
                        if len(cache) < _PREPARED_LIMIT and raw.__hash__ is not None:
                            cache[raw] = value
                    row.append(value)
                copy.write_row(row)
    return list(objs)


def copy_like(
    template: models.Model, varying: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert one row per entry of `rows` with COPY: each a copy of the unsaved `template`
    with the fields named in `varying` (attnames, in order) set from the entry; the new ids.

    Every other field is prepared once, from the template: only `varying` is prepared
    per row (the encrypted number, the keys). For millions of rows, where building a
    model instance per row costs more than the database's own work.
    """
    meta = template._meta
    now = timezone.now()
    for field in meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            setattr(template, field.attname, now)
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    by_name = {f.attname: f for f in fields}
    per_row = [by_name[name] for name in varying]
    fixed = [f for f in fields if f.attname not in varying]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in [meta.pk, *fixed, *per_row])
    constant = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fixed]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for pk, values in zip(ids, rows, strict=True):
                prepared = [
                    f.get_db_prep_save(v, connection) for f, v in zip(per_row, values, strict=True)
                ]
                copy.write_row([pk, *constant, *prepared])
    return ids


def due_callbacks_many(
    *,
    queue: Queue,
    contact: Contact,
    numbers: Sequence[str],
    requested_at: datetime,
    due_at: datetime,
) -> list[int]:
    """`due_callbacks_create` for a million: one contact like `contact` (unsaved) per number,
    its phone and its task; the tasks' ids."""
    hash_of = keyed_hasher()
    contacts = copy_like(contact, (), [() for _ in numbers])
    hashes = [hash_of(e164) for e164 in numbers]
    generation, answers = registry_answers(numbers)
    phone = PhoneNumber(
        number="", number_hash="", line_type="mobile", registry_generation=generation
    )
    phones = copy_like(
        phone,
        ("contact_id", "number", "number_hash", "exchange", "registry_lists"),
        [
            (c, e164, h, exchange_digits(e164), lists)
            for c, e164, h, lists in zip(contacts, numbers, hashes, answers, strict=True)
        ],
    )
    task = CallTask(
        queue=queue,
        origin="api",
        requested_at=requested_at,
        next_attempt_at=due_at,
    )
    return copy_like(
        task,
        ("contact_id", "phone_id", "number_hash"),
        list(zip(contacts, phones, hashes, strict=True)),
    )


def due_callbacks_create(
    *,
    queue: Queue,
    contacts: Sequence[Contact],
    numbers: Sequence[str],
    requested_at: datetime,
    due_at: datetime,
) -> list[CallTask]:
    """One phone (E.164, mobile) and one pending task per unsaved contact, in three COPYs;
    each phone keeps the registries' answer of the current generation (dialer.listings),
    as the refresh leaves it."""
    saved = copy_insert(contacts)
    generation, answers = registry_answers(numbers)
    phones = [
        PhoneNumber(
            contact=c,
            number=e164,
            line_type="mobile",
            registry_generation=generation,
            registry_lists=lists,
        )
        for c, e164, lists in zip(saved, numbers, answers, strict=True)
    ]
    for phone in phones:
        phone.derive(keep_registry_answer=True)
    copy_insert(phones)
    return copy_insert(
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
        ]
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
