"""Synthetic registry data for bench/dnc.py (seeded), and the pyroaring baseline it is
compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261127
AREA_SPAN = 10_000_000


def write_numbers(path: Path, keys: np.ndarray) -> None:
    """One 10-digit number a line, written from the digits at once."""
    digits = (keys[:, None] // (10 ** np.arange(9, -1, -1, dtype=np.int64))) % 10
    rows = np.empty((len(keys), 11), np.uint8)
    rows[:, :10] = digits + 48
    rows[:, 10] = 10
    path.write_bytes(rows.tobytes())


def write_changes(path: Path, adds: np.ndarray, deletes: np.ndarray) -> None:
    """`NNNNNNNNNN,A` / `NNNNNNNNNN,D` lines, interleaved."""
    keys = np.concatenate([adds, deletes])
    marks = np.concatenate([np.full(len(adds), ord("A")), np.full(len(deletes), ord("D"))])
    order = np.random.default_rng(SEED + 3).permutation(len(keys))
    keys, marks = keys[order], marks[order]
    digits = (keys[:, None] // (10 ** np.arange(9, -1, -1, dtype=np.int64))) % 10
    rows = np.empty((len(keys), 13), np.uint8)
    rows[:, :10] = digits + 48
    rows[:, 10] = ord(",")
    rows[:, 11] = marks
    rows[:, 12] = 10
    path.write_bytes(rows.tobytes())


def synthetic_registry(
    total: int, areas: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`total` distinct numbers spread evenly over `areas` area codes (lines 200-0000 up)."""
    codes = np.sort(rng.choice(np.arange(201, 990), areas, replace=False))
    per_area = total // areas
    chunks = []
    for code in codes.tolist():
        lines = rng.choice(8_000_000, per_area, replace=False) + 2_000_000
        chunks.append(np.sort(lines + code * AREA_SPAN))
    return codes, np.concatenate(chunks)


def member(sorted_set: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which keys are in a sorted array (np.isin is very slow on arrays this size)."""
    if len(sorted_set) == 0:
        return np.zeros(len(keys), np.bool_)
    at = np.minimum(np.searchsorted(sorted_set, keys), len(sorted_set) - 1)
    return sorted_set[at] == keys


def roaring_from_postgres(
    connection: Any, area_lines: Any, area_tables: Any, load_changes: Any
) -> dict[str, Any]:
    """pyroaring bitmaps per source and area code, from the same rows as the dense index."""
    from pyroaring import BitMap

    maps: dict[str, dict[int, Any]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT source, area_code, load_id FROM dnc_registrycoverage WHERE source = 'national'"
        )
        for source, area, load_id in cursor.fetchall():
            removed, added = load_changes(cursor, load_id)
            lines = area_lines(cursor, area_tables(cursor, load_id)[area], area)
            listed = BitMap(lines.astype(np.uint32))
            low = area * AREA_SPAN
            for changes, keep in ((removed, False), (added, True)):
                within = changes[(changes >= low) & (changes < low + AREA_SPAN)] - low
                if keep:
                    listed |= BitMap(within.astype(np.uint32))
                else:
                    listed -= BitMap(within.astype(np.uint32))
            maps.setdefault(source, {})[area] = listed
    return maps


def roaring_contains(maps: dict[int, Any], keys: np.ndarray) -> np.ndarray:
    """Set-based: per area code, intersect the candidates' bitmap with the registry's."""
    from pyroaring import BitMap

    areas = keys // AREA_SPAN
    lines = (keys - areas * AREA_SPAN).astype(np.uint32)
    order = np.argsort(areas, kind="stable")
    sorted_areas = areas[order]
    bounds = np.flatnonzero(np.diff(sorted_areas)) + 1
    found = np.zeros(len(keys), np.bool_)
    for chunk in np.split(order, bounds):
        registry = maps.get(int(areas[chunk[0]]))
        if registry is None:
            continue
        wanted = lines[chunk]
        common = np.asarray(registry & BitMap(wanted), np.uint32)
        found[chunk] = member(common, wanted)
    return found
