"""The registry's tables in PostgreSQL, the load lock and the generation.

    dnc_registry_number            partitioned by load (LIST load_id)
      dnc_regnum_<load>            one per full load, partitioned by RANGE (number):
        dnc_regnum_<load>_<area>   the numbers of its full list in one area code
        dnc_regnum_<load>_removed  -n for each number n a change list removed
        dnc_regnum_<load>_added    n + ADDED for each number n a change list added

A full list's rows are never rewritten: a change list only adds rows to the
two small tables of changes (or takes back an earlier change there), so it
costs one append per change and no random write in the big tables. A load
lists n when n is in its full list and not removed, or when n was added
(`LISTED_SQL`). A new full list starts with no changes.

A lookup is pruned to a few small tables per copy in force; a load builds its
tables unseen, in its own transaction, and attaches them in one step.
The change lists' reads and writes are in `dnc.registry.changes`; the binary
COPY format in `dnc.registry.binary`.

Every function takes the caller's cursor (a psycopg 3 cursor under Django's
wrapper) and runs inside the caller's transaction unless it says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from django.db import connection
from psycopg.copy import QueuedLibpqWriter

from dnc.keys import AREA_SPAN, Keys
from dnc.models import partition_name
from dnc.registry.binary import HEADER, ROW, TRAILER

PARENT = "dnc_registry_number"
KEY_END = 1000 * AREA_SPAN  # keys are 0 to KEY_END - 1
ADDED = KEY_END  # a number added by a change list is stored as number + ADDED


def listed_sql(base: str, removed: str, added: str, *, key: str, load: str = "") -> str:
    """SQL that is true when a load lists `key`: in its full list and not removed, or added.
    `load`: the load id to restrict to when the tables are the whole registry's."""
    where = f"n.load_id = {load} AND " if load else ""
    return (
        f"((EXISTS (SELECT 1 FROM {base} n WHERE {where}n.number = {key})"  # noqa: S608
        f" AND NOT EXISTS (SELECT 1 FROM {removed} n WHERE {where}n.number = -{key}))"
        f" OR EXISTS (SELECT 1 FROM {added} n WHERE {where}n.number = {key} + {ADDED}))"
    )


# Whether the load `{load}` lists the key `{key}` (SQL expressions to format in).
LISTED_SQL = listed_sql(PARENT, PARENT, PARENT, key="{key}", load="{load}")
# Held by a load for its whole transaction, and by the pruning of old partitions.
LOAD_LOCK = 7_311_003


class RegistryBusy(Exception):
    """Another registry load holds the lock."""

    def __init__(self) -> None:
        super().__init__("another registry load is running; try again when it has finished")


def lock_loads(cursor: Any) -> None:
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOAD_LOCK])
    if not cursor.fetchone()[0]:
        raise RegistryBusy()


class RegistryVersion(NamedTuple):
    generation: int  # for people and the audit trail
    stamp: str  # for index files: random, never the same twice ("" before any load)


def next_generation(cursor: Any) -> int:
    """A new generation (a sequence, never reused even when a load rolls back) and stamp."""
    cursor.execute(
        """
        INSERT INTO dnc_registrystate (id, generation, stamp)
        VALUES (1, nextval('dnc_registry_generation'), gen_random_uuid()::text)
        ON CONFLICT (id) DO UPDATE
        SET generation = EXCLUDED.generation, stamp = EXCLUDED.stamp
        RETURNING generation
        """
    )
    return int(cursor.fetchone()[0])


def current_version(cursor: Any) -> RegistryVersion:
    cursor.execute("SELECT generation, stamp FROM dnc_registrystate WHERE id = 1")
    row = cursor.fetchone()
    return RegistryVersion(int(row[0]), row[1]) if row else RegistryVersion(0, "")


def load_table_create(cursor: Any, load_id: int) -> str:
    """A load's table, split by area code; its CHECK lets ATTACH skip a validating scan."""
    name = partition_name(load_id)
    cursor.execute(
        f"CREATE TABLE {name} ({_load_id_column(load_id)}, number bigint NOT NULL)"
        " PARTITION BY RANGE (number)"
    )
    change_tables_create(cursor, load_id)
    return name


def _load_id_column(load_id: int) -> str:
    """The load id column of a load's tables, with the CHECK (named the same in each, as
    ATTACH asks) that shows the whole load is one partition of the registry."""
    load = int(load_id)
    return (
        f"load_id bigint NOT NULL DEFAULT {load}"
        f" CONSTRAINT {partition_name(load)}_load CHECK (load_id = {load})"
    )


def change_tables_create(cursor: Any, load_id: int) -> tuple[str, str]:
    """The load's tables of removed and added numbers (kept when they exist);
    each gets the load table's index when it has one."""
    name = partition_name(load_id)
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {name}_removed PARTITION OF {name}"
        f" FOR VALUES FROM ({-KEY_END}) TO (0)"
    )
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {name}_added PARTITION OF {name}"
        f" FOR VALUES FROM ({ADDED}) TO ({ADDED + KEY_END})"
    )
    return f"{name}_removed", f"{name}_added"


def area_table_name(load_id: int, area: int) -> str:
    return f"{partition_name(load_id)}_{int(area)}"


def area_table_create(cursor: Any, load_id: int, area: int) -> str:
    """A table for a load's numbers of one area code, not yet a partition (`AreaWriter`
    attaches it); its CHECKs let ATTACH skip a validating scan."""
    name = area_table_name(load_id, area)
    low, high = area_range(area)
    cursor.execute(
        f"CREATE TABLE {name} ({_load_id_column(load_id)}, number bigint NOT NULL"
        f" CONSTRAINT {name}_area CHECK (number >= {low} AND number < {high}))"
    )
    return name


def area_tables(cursor: Any, load_id: int) -> dict[int, str]:
    """area code -> table of a load's rows (only the area codes it has rows in)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        [partition_name(load_id)],
    )
    return {
        int(suffix): name
        for (name,) in cursor.fetchall()
        if (suffix := name.rsplit("_", 1)[1]).isdigit()
    }


# Input from this size up spreads its area codes over a second connection (PostgreSQL
# runs a connection's statements one at a time, on one core).
LANES_FROM_BYTES = 16 << 20


class _Lane:
    """One connection's share of a load's area tables: their COPY, then their indexes."""

    def __init__(self, cursor: Any, load_id: int, own: Any = None) -> None:
        self.cursor = cursor
        self.load_id = load_id
        self.own = own  # a connection of this lane's own, committed by `AreaWriter.finish`
        self.rows = 0
        self.tables: dict[int, str] = {}
        self._area: int | None = None
        self._context: Any = None
        self._copy: Any = None

    def write(self, area: int, rows: bytes, count: int) -> None:
        if area != self._area:
            self._open(area)
        self._copy.write(rows)
        self.rows += count

    def _open(self, area: int) -> None:
        self.close(None)
        if area not in self.tables:
            self.tables[area] = area_table_create(self.cursor, self.load_id, area)
        # Sent by a thread of psycopg's: the next block is parsed while PostgreSQL takes this one.
        raw = getattr(self.cursor, "cursor", self.cursor)  # psycopg's, under Django's wrapper
        self._context = raw.copy(
            f"COPY {self.tables[area]} (number) FROM STDIN WITH (FORMAT binary, FREEZE)",
            writer=QueuedLibpqWriter(raw),
        )
        self._copy = self._context.__enter__()
        self._copy.write(HEADER)
        self._area = area

    def close(self, exc: tuple[Any, ...] | None) -> None:
        if self._context is None:
            return
        context, self._context, self._area = self._context, None, None
        if exc is None or exc[0] is None:
            self._copy.write(TRAILER)
            context.__exit__(None, None, None)
        else:
            context.__exit__(*exc)

    def index(self) -> None:
        """Index each table: packed full (nothing writes to a full list's table again),
        without looking for duplicates (a list holds a number once)."""
        self.cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # The lanes are the parallelism: workers would spill sorted runs to merge them.
        self.cursor.execute("SET LOCAL max_parallel_maintenance_workers = 0")
        for table in self.tables.values():
            self.cursor.execute(
                f"CREATE INDEX {table}_number ON {table} (number)"
                " WITH (fillfactor = 100, deduplicate_items = off)"
            )


class AreaWriter:
    """Streams keys into a new load's per-area tables with binary COPY, then indexes them
    and attaches them to the load's table (`finish`).

    Each area code has its own table, so each index is a small in-memory sort
    whatever the size of the registry. Keys may come in any order; sorted input
    (registry files are) makes one COPY per area code. A table is new in the
    transaction that fills it, so COPY FREEZE writes it already frozen.

    With `lanes=2` a second connection builds half of the area tables at the same
    time, in a transaction of its own that commits once they are all indexed,
    just before the load's transaction attaches them. Until that attach commits,
    nothing refers to those tables: a load that fails before it rolls the second
    transaction back with it, and `partitions_prune` drops the tables of one that
    failed between the two commits.
    """

    def __init__(self, cursor: Any, load_id: int, lanes: int = 1) -> None:
        self.cursor = cursor
        self.load_id = load_id
        self._lanes = [_Lane(cursor, load_id)]
        for _ in range(lanes - 1):
            own = connection.get_new_connection(connection.get_connection_params())
            self._lanes.append(_Lane(own.cursor(), load_id, own))
        self._lane_of: dict[int, _Lane] = {}

    @property
    def rows(self) -> int:
        return sum(lane.rows for lane in self._lanes)

    @property
    def tables(self) -> dict[int, str]:
        return {area: table for lane in self._lanes for area, table in lane.tables.items()}

    def __enter__(self) -> AreaWriter:
        return self

    def write(self, keys: Keys) -> None:
        if len(keys) == 0:
            return
        if not (keys[1:] >= keys[:-1]).all():
            keys = np.sort(keys)
        areas = keys // AREA_SPAN
        starts = np.flatnonzero(np.diff(areas)) + 1
        for run in np.split(keys, starts):
            area = int(run[0] // AREA_SPAN)
            lane = self._lane_of.get(area)
            if lane is None:  # a new area code goes to the lane with the fewest rows
                lane = self._lane_of[area] = min(self._lanes, key=lambda lane: lane.rows)
            rows = np.empty(len(run), ROW)
            rows["fields"] = 1
            rows["length"] = 8
            rows["value"] = run
            lane.write(area, rows.tobytes(), len(run))

    def finish(self) -> None:
        """Index every table (each lane at once), commit the other lanes' tables, attach
        them all to the load's table, index it and attach it to the registry.

        The load table's index adopts the area tables' indexes, and the registry's
        index adopts the load table's: nothing is built twice. Building an index
        records its table's size, all a lookup's plan needs (an index probe); the
        column statistics are left to autovacuum, after the commit.
        """
        for lane in self._lanes:
            lane.close(None)
        with ThreadPoolExecutor(max_workers=len(self._lanes)) as pool:
            others = [pool.submit(lane.index) for lane in self._lanes[1:]]
            self._lanes[0].index()
            for done in others:
                done.result()
        for lane in self._lanes[1:]:
            lane.own.commit()
        name = partition_name(self.load_id)
        for area, table in sorted(self.tables.items()):
            low, high = area_range(area)
            self.cursor.execute(
                f"ALTER TABLE {name} ATTACH PARTITION {table} FOR VALUES FROM ({low}) TO ({high})"
            )
        self.cursor.execute(f"CREATE INDEX {name}_number ON {name} (number)")
        self.cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES IN ({int(self.load_id)})"
        )

    def __exit__(self, *exc: Any) -> None:
        try:
            for lane in self._lanes:
                lane.close(exc if exc[0] is not None else None)
        finally:
            for lane in self._lanes[1:]:
                lane.own.close()  # rolls back what it has not committed


def area_range(area_code: int) -> tuple[int, int]:
    return area_code * AREA_SPAN, (area_code + 1) * AREA_SPAN


def partitions_prune() -> list[str]:
    """Detach and drop the partitions of loads no longer in force, and the area tables a
    load left unattached (`AreaWriter`); returns their names.

    Runs outside any transaction when it can (DETACH ... CONCURRENTLY waits for
    readers instead of blocking them); skips the work if a load is running.
    """
    concurrent = not connection.in_atomic_block
    dropped: list[str] = []
    with connection.cursor() as cursor:
        if concurrent:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOAD_LOCK])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOAD_LOCK])
        if not cursor.fetchone()[0]:
            return dropped
        try:
            cursor.execute(
                """
                SELECT c.relname, i.inhdetachpending FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = %s::regclass
                  AND NOT EXISTS (
                    SELECT 1 FROM dnc_registrycoverage v
                    WHERE %s || v.load_id::text = c.relname)
                """,
                [PARENT, "dnc_regnum_"],
            )
            for name, pending in cursor.fetchall():
                if pending:
                    cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name} FINALIZE")
                elif concurrent:
                    cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name} CONCURRENTLY")
                else:
                    cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
            # With the lock held no load is running: an area table no load table holds is
            # one whose load failed after its second connection committed.
            cursor.execute(
                "SELECT relname FROM pg_class"
                " WHERE relname LIKE %s AND relkind = 'r' AND NOT relispartition",
                ["dnc\\_regnum\\_%"],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
        finally:
            if concurrent:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOAD_LOCK])
    return dropped


def in_force(cursor: Any, source: str) -> dict[int, tuple[int, Any]]:
    """area code -> (load id, as of) of the copies in force for a source."""
    cursor.execute(
        "SELECT area_code, load_id, as_of FROM dnc_registrycoverage WHERE source = %s", [source]
    )
    return {int(area): (int(load), as_of) for area, load, as_of in cursor.fetchall()}


def coverage_replace(
    cursor: Any, *, source: str, area_codes: Iterable[int], load_id: int, as_of: Any, whole: bool
) -> None:
    if whole:
        cursor.execute("DELETE FROM dnc_registrycoverage WHERE source = %s", [source])
    cursor.executemany(
        """
        INSERT INTO dnc_registrycoverage (source, area_code, load_id, last_load_id, as_of)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (source, area_code) DO UPDATE
        SET load_id = EXCLUDED.load_id, last_load_id = EXCLUDED.last_load_id, as_of = EXCLUDED.as_of
        """,
        [(source, area, load_id, load_id, as_of) for area in area_codes],
    )


def coverage_touch(cursor: Any, *, source: str, load_id: int, as_of: Any) -> None:
    cursor.execute(
        "UPDATE dnc_registrycoverage SET as_of = %s, last_load_id = %s WHERE source = %s",
        [as_of, load_id, source],
    )
