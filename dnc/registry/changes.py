"""Change lists: the numbers they removed from a load's full list and those they added.

Each load has two small tables of changes beside its full list
(`dnc.registry.storage`): `-n` for each number n removed, `n + ADDED` for each
number n added. A change list appends there, or takes back an earlier opposite
change; the full list's rows are never rewritten.

Every function takes the caller's cursor (a psycopg 3 cursor under Django's
wrapper) and runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnc.keys import Keys, Mask
from dnc.models import partition_name
from dnc.registry.binary import HEADER, ROW, TRAILER, copy_into_temp, fetch_numbers
from dnc.registry.storage import ADDED, change_tables_create, listed_sql


def load_changes(cursor: Any, load_id: int) -> tuple[Keys, Keys]:
    """The numbers change lists removed from a load's full list, and those they added."""
    name = partition_name(load_id)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{name}_removed"])
    if not cursor.fetchone()[0]:  # a load made before tables of changes existed
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return (
        fetch_numbers(cursor, f"SELECT -number FROM {name}_removed"),  # noqa: S608
        fetch_numbers(cursor, f"SELECT number - {ADDED} FROM {name}_added"),  # noqa: S608
    )


def changes_listed(cursor: Any, keys: Keys, load_ids: Keys) -> Mask:
    """Which keys the given loads list now, from PostgreSQL (index probes, one key at a time)."""
    copy_into_temp(cursor, "dnc_changes_probe", keys, load_ids)
    found = np.zeros(len(keys), np.bool_)
    for load_id in np.unique(load_ids).tolist():
        removed, added = change_tables_create(cursor, load_id)
        # The load's own tables by name: planned once, not pruned again for every key.
        rule = listed_sql(partition_name(load_id), removed, added, key="p.number")
        listed = fetch_numbers(
            cursor,
            f"SELECT p.number FROM dnc_changes_probe p WHERE p.load_id = {int(load_id)}"  # noqa: S608
            f" AND {rule}",
        )
        mine = load_ids == load_id
        found[mine] = np.isin(keys[mine], listed)
    cursor.execute("DROP TABLE dnc_changes_probe")
    return found


def changes_apply(
    cursor: Any, *, adds: Keys, add_loads: Keys, deletes: Keys, delete_loads: Keys
) -> tuple[int, int]:
    """Record additions of unlisted numbers and deletions of listed ones; returns (added, deleted).

    The caller passes only changes that change something (a number listed is
    not added again), so a change list applied twice gives the same registry.
    A deletion takes back an earlier addition, or else marks the number removed;
    an addition takes back an earlier removal, or else adds the number.
    """
    copy_into_temp(cursor, "dnc_changes_delete", deletes, delete_loads)
    copy_into_temp(cursor, "dnc_changes_add", adds, add_loads)
    cursor.execute("SET LOCAL jit = off")  # compiling these plans costs more than running them
    deleted = added = 0
    # Table names are built from integer load ids only, never from input.
    for load_id in np.unique(delete_loads).tolist():
        removed, added_table = change_tables_create(cursor, load_id)
        deleted += _record(
            cursor,
            "dnc_changes_delete",
            load_id,
            np.sort(deletes[delete_loads == load_id]),
            store=(removed, -1, 0),
            take_back=(added_table, f"c.number + {ADDED}"),
        )
    for load_id in np.unique(add_loads).tolist():
        removed, added_table = change_tables_create(cursor, load_id)
        added += _record(
            cursor,
            "dnc_changes_add",
            load_id,
            np.sort(adds[add_loads == load_id]),
            store=(added_table, 1, ADDED),
            take_back=(removed, "-c.number"),
        )
    # Fresh statistics for the next change list's plans.
    for load_id in np.union1d(delete_loads, add_loads).tolist():
        cursor.execute("ANALYZE {0}_removed, {0}_added".format(partition_name(load_id)))
    cursor.execute("DROP TABLE dnc_changes_delete, dnc_changes_add")
    return added, deleted


def _record(
    cursor: Any,
    changes: str,
    load_id: int,
    keys: Keys,
    *,
    store: tuple[str, int, int],
    take_back: tuple[str, str],
) -> int:
    """One load's changes of one kind (`keys`, sorted, also in the table `changes`):
    1. take back the earlier opposite changes they meet (`take_back`: table, stored value);
    2. append the others to `store` (table, sign and offset of the stored value) by COPY."""
    opposite, stored = take_back
    taken = fetch_numbers(
        cursor,
        f"DELETE FROM {opposite} t USING {changes} c"  # noqa: S608
        f" WHERE c.load_id = {int(load_id)} AND t.number = {stored} RETURNING c.number",
    )
    table, sign, offset = store
    new = np.setdiff1d(keys, taken, assume_unique=True) * sign + offset
    new.sort()
    rows = np.empty(len(new), ROW)
    rows["fields"] = 1
    rows["length"] = 8
    rows["value"] = new
    with cursor.copy(f"COPY {table} (number) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(HEADER)
        copy.write(rows.tobytes())
        copy.write(TRAILER)
    return len(taken) + len(new)
