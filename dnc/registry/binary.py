"""PostgreSQL's binary COPY format for bigint keys, in and out, with numpy.

Every function takes the caller's cursor (a psycopg 3 cursor under Django's
wrapper) and runs inside the caller's transaction.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from dnc.keys import Keys

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
ROW = np.dtype([("fields", ">i2"), ("length", ">i4"), ("value", ">i8")])
_INT8_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


def fetch_numbers(cursor: Any, select: str) -> Keys:
    """The bigint column of a query or of a DELETE ... RETURNING (SQL of ours, never input),
    as one sorted array."""
    query = f"COPY (WITH s(x) AS ({select}) SELECT array_agg(x ORDER BY x) FROM s) TO STDOUT (FORMAT binary)"  # noqa: S608, E501
    return fetch_array(cursor, query, _INT8_ELEMENT)


def fetch_array(cursor: Any, query: str, element: np.dtype[Any]) -> Keys:
    """The one array of `COPY (SELECT array_agg(...)) TO STDOUT (FORMAT binary)`, as int64
    (`element`: the (length, value) pair of its element type); empty for a NULL array."""
    buffer = bytearray()
    with cursor.copy(query) as copy:
        for data in copy:
            buffer += data
    # 19-byte file header, then one row: field count (2), length (4, -1 for NULL),
    # the array header (20 bytes for one dimension), elements of (length, value).
    (length,) = struct.unpack(">i", buffer[21:25])
    if length < 0:
        return np.zeros(0, np.int64)
    body = bytes(buffer[25 + 20 : -2])
    return np.frombuffer(body, element)["value"].astype(np.int64)


def copy_into_temp(cursor: Any, table: str, keys: Keys, load_ids: Keys) -> None:
    """A temporary table of (number, load_id), in load and number order (index locality)."""
    order = np.lexsort((keys, load_ids))
    cursor.execute(
        f"CREATE TEMP TABLE {table} (number bigint NOT NULL, load_id bigint NOT NULL)"
        " ON COMMIT DROP"
    )
    rows = np.empty(
        len(keys), [("fields", ">i2"), ("l1", ">i4"), ("n", ">i8"), ("l2", ">i4"), ("id", ">i8")]
    )
    rows["fields"] = 2
    rows["l1"] = 8
    rows["n"] = keys[order]
    rows["l2"] = 8
    rows["id"] = load_ids[order]
    with cursor.copy(f"COPY {table} (number, load_id) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(HEADER)
        copy.write(rows.tobytes())
        copy.write(TRAILER)
    cursor.execute(f"ANALYZE {table}")
