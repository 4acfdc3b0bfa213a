"""The in-memory registry index: one bit per possible number, in a file shared by memory-mapping.

Layout of `registry-<stamp>.idx`: a header region of HEADER_BYTES (magic,
then the length and text of a JSON header: stamp, generation, sources, and for each
source the block number of every area code it has numbers in), then blocks of
BLOCK_BYTES, one bit per number NXX-XXXX of one area code of one source. Block 0
is all zeros: an area code a source does not cover points there, so a lookup
needs no test of coverage. The whole national registry (about 600 area codes)
takes about 750 MB, mapped once and shared by every process on the machine
through the page cache.

An index is only ever used for the generation it was built from: a reader
compares its stamp with the one in PostgreSQL on every call, and falls back to
PostgreSQL when no file for the current stamp exists. (The stamp is random per
generation, so databases sharing a directory, or a database restored to an
older state, can never pick up each other's files.)
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, transaction

from dnc.keys import AREA_SPAN, Keys, Mask
from dnc.models import ALL_AREA_CODES
from dnc.registry.binary import fetch_array
from dnc.registry.changes import load_changes
from dnc.registry.storage import (
    KEY_END,
    RegistryVersion,
    area_range,
    area_tables,
    current_version,
)

MAGIC = b"DNCIDX02"
HEADER_BYTES = 1 << 20
BLOCK_BYTES = AREA_SPAN // 8
# Keys looked up per pass: the temporary arrays of a pass stay in the CPU cache.
CHUNK = 1 << 16
STALE_BUILD_SECONDS = 6 * 3600
_ARRAY_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i4")])


def index_dir() -> Path:
    """DNC_INDEX_DIR (setting or environment), one subdirectory per database."""
    configured = getattr(settings, "DNC_INDEX_DIR", "") or os.environ.get("DNC_INDEX_DIR", "")
    base = Path(configured) if configured else Path(tempfile.gettempdir()) / "callorch-dnc-index"
    return base / str(connection.settings_dict["NAME"])


def index_path(stamp: str, directory: Path | None = None) -> Path:
    if not stamp or not all(c in "0123456789abcdef-" for c in stamp):
        raise ValueError("not a registry stamp")
    return (directory or index_dir()) / f"registry-{stamp}.idx"


@dataclass(frozen=True)
class DenseIndex:
    version: RegistryVersion
    sources: tuple[str, ...]
    slots: npt.NDArray[np.int64]  # (sources, 1000): block number, 0 (the zero block) for none
    bits: npt.NDArray[np.uint8]

    def contains(self, keys: Keys) -> dict[str, Mask]:
        """For each source, which keys it lists (keys outside 0-9999999999 never match).

        Every key is looked up in every source's table of blocks with no sorting
        and no test of coverage: a few passes of arithmetic and one gather, on
        chunks of keys small enough for the CPU cache.
        """
        keys = np.asarray(keys, np.int64)
        count = len(keys)
        found = {source: np.empty(count, np.bool_) for source in self.sources}
        if count and (int(keys.min()) < 0 or int(keys.max()) >= KEY_END):
            keys = np.where((keys >= 0) & (keys < KEY_END), keys, 0)  # key 0: the zero block
        starts = self.slots * BLOCK_BYTES  # byte offset of each source's block per area code
        for start in range(0, count, CHUNK):
            chunk = keys[start : start + CHUNK]
            area = chunk // AREA_SPAN
            line = chunk - area * AREA_SPAN
            bit = (line & 7).astype(np.uint8)
            line >>= 3
            for row, source in enumerate(self.sources):
                offset = starts[row][area]
                offset += line
                byte = self.bits[offset]
                np.right_shift(byte, bit, out=byte)
                np.bitwise_and(byte, 1, out=found[source][start : start + CHUNK].view(np.uint8))
        return found

    def contains_one(self, key: int) -> list[str]:
        """The sources that list one key."""
        if not 0 <= key < KEY_END:
            return []
        area, line = divmod(key, AREA_SPAN)
        return [
            source
            for row, source in enumerate(self.sources)
            if int(self.bits[int(self.slots[row, area]) * BLOCK_BYTES + (line >> 3)]) >> (line & 7)
            & 1
        ]


def index_open(version: RegistryVersion, directory: Path | None = None) -> DenseIndex | None:
    """The index of this version, or None when there is no complete file for it."""
    if not version.stamp:
        return None
    path = index_path(version.stamp, directory)
    try:
        with path.open("rb") as stream:
            head = stream.read(12)
            if len(head) < 12 or head[:8] != MAGIC:
                return None
            (length,) = struct.unpack("<I", head[8:12])
            header = json.loads(stream.read(length))
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    blocks = int(header["blocks"])
    if (
        header["stamp"] != version.stamp
        or blocks < 1
        or size != HEADER_BYTES + blocks * BLOCK_BYTES
    ):
        return None
    sources = tuple(header["sources"])
    slots = np.zeros((len(sources), 1000), np.int64)
    for row, source in enumerate(sources):
        for area, block in header["slots"][source].items():
            slots[row, int(area)] = block
    bits = np.memmap(path, np.uint8, mode="r", offset=HEADER_BYTES, shape=(blocks * BLOCK_BYTES,))
    return DenseIndex(version=version, sources=sources, slots=slots, bits=bits)


_lock = threading.Lock()
_current: DenseIndex | None = None


def index_cached() -> DenseIndex | None:
    """The index this process has mapped, whatever its version."""
    return _current


def index_for(version: RegistryVersion) -> DenseIndex | None:
    """This process's mapping of the index of `version`, opened on first use."""
    global _current
    found = _current
    if found is not None and found.version == version:
        return found
    with _lock:
        if _current is None or _current.version != version:
            # A stale mapping is dropped even when no newer file exists yet.
            _current = index_open(version)
        return _current


def index_build(*, directory: Path | None = None) -> tuple[Path, int]:
    """Build the index of the current generation; returns (path, numbers).

    1. In one read-only, repeatable-read transaction (one snapshot), read the
       version (generation and stamp) and the copies in force.
    2. For every source and area code in force, fetch that area code's lines
       from its load's area table as one array, set their bits in a block,
       clear those of the numbers change lists removed and set those they
       added, and write the block to a temporary file (a state list: every
       area code it has numbers in).
    3. Write the header, fsync, rename to the stamp's name (atomic), fsync
       the directory; readers never see a half-written index. Remove the
       files of other versions (processes that mapped them keep them).
    """
    directory = directory or index_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for left in directory.glob(".building-*"):  # from a build that was killed
        if time.time() - left.stat().st_mtime > STALE_BUILD_SECONDS:
            left.unlink(missing_ok=True)
    temporary = directory / f".building-{os.getpid()}-{secrets.token_hex(4)}"
    # Inside a caller's transaction (tests) the snapshot is the caller's to choose.
    own_snapshot = not connection.in_atomic_block
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if own_snapshot:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            version = current_version(cursor)
            if not version.stamp:
                raise LookupError("no registry is loaded: nothing to index")
            cursor.execute(
                "SELECT source, area_code, load_id FROM dnc_registrycoverage"
                " ORDER BY source <> 'national', source, area_code"
            )
            coverage = cursor.fetchall()
            sources: list[str] = []
            slots: dict[str, dict[str, int]] = {}
            blocks, numbers = 1, 0  # block 0: the zero block
            with temporary.open("wb") as out:
                out.truncate(HEADER_BYTES + BLOCK_BYTES)
                out.seek(HEADER_BYTES + BLOCK_BYTES)
                changes: dict[int, tuple[Keys, Keys]] = {}
                for source, area_code, load_id in coverage:
                    if source not in slots:
                        sources.append(source)
                        slots[source] = {}
                    if load_id not in changes:
                        changes[load_id] = load_changes(cursor, load_id)
                    removed, added = changes[load_id]
                    tables: dict[int, str | None] = dict(area_tables(cursor, load_id))
                    for area in np.unique(added // AREA_SPAN).tolist():
                        tables.setdefault(area, None)  # numbers added where the list had none
                    if area_code != ALL_AREA_CODES:  # a national copy: this area code only
                        tables = {a: t for a, t in tables.items() if a == area_code}
                    for area, table in sorted(tables.items()):
                        block = np.zeros(AREA_SPAN, np.bool_)
                        if table is not None:
                            block[_area_lines(cursor, table, area)] = True
                        low, high = area_range(area)
                        for listed, keys in ((False, removed), (True, added)):
                            within = keys[np.searchsorted(keys, low) : np.searchsorted(keys, high)]
                            block[within - low] = listed
                        count = int(np.count_nonzero(block))
                        if count == 0:
                            continue
                        out.write(np.packbits(block, bitorder="little").tobytes())
                        slots[source][str(area)] = blocks
                        blocks += 1
                        numbers += count
                header = json.dumps(
                    {
                        "stamp": version.stamp,
                        "generation": version.generation,
                        "sources": sources,
                        "slots": slots,
                        "blocks": blocks,
                    }
                ).encode()
                if 12 + len(header) > HEADER_BYTES:
                    raise ValueError("index header too large")
                out.seek(0)
                out.write(MAGIC + struct.pack("<I", len(header)) + header)
                out.flush()
                os.fsync(out.fileno())
        final = index_path(version.stamp, directory)
        os.replace(temporary, final)
        _fsync_dir(directory)
    finally:
        temporary.unlink(missing_ok=True)
    for old in directory.glob("registry-*.idx"):
        if old != final:
            old.unlink(missing_ok=True)
    return final, numbers


def _area_lines(cursor: Any, table: str, area: int) -> npt.NDArray[np.int64]:
    """The lines (NXX-XXXX as an integer) of one area table, fetched as one array."""
    low, _ = area_range(area)
    query = (  # integers and a table name made from integers only
        f"COPY (SELECT array_agg((number - {low})::int4) FROM {table})"  # noqa: S608
        " TO STDOUT (FORMAT binary)"
    )
    return fetch_array(cursor, query, _ARRAY_ELEMENT)


def _fsync_dir(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
