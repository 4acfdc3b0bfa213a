"""Loading a registry snapshot: a full list replaces what it covers, a change list edits it.

A national full list covers the area codes it holds numbers in (the FTC sends
one file per area code); a state's full list covers the whole state. A change
list brings every copy of its source up to its as-of date.

Each load is one transaction, so readers see the old registry or the new one,
never half, and a load that dies (killed, a bad line, a full disk) leaves the
previous snapshot in force and nothing behind. Running it again is the resume.
(A big full load builds half its tables on a second connection, which commits
them unattached just before the load's transaction attaches them: see
`storage.AreaWriter`.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import us
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from dnc.index import index_for
from dnc.keys import AREA_SPAN, Keys, Mask
from dnc.models import ALL_AREA_CODES, LoadKind, RegistryLoad
from dnc.registry import changes, storage
from dnc.registry.parse import (
    ADD,
    DELETE,
    BlockParser,
    FileStats,
    LineMode,
    file_blocks,
    uncompressed_size,
)
from dnc.registry.progress import Progress

SOURCE = re.compile(r"national|state:[A-Z]{2}")
NATIONAL = "national"


@dataclass(frozen=True)
class RegistryInput:
    path: Path
    mode: LineMode = LineMode.FULL


class RegistryRefused(Exception):
    """The load changed nothing; the message names files and line numbers, never content."""

    def __init__(self, message: str, files: Sequence[FileStats] = ()) -> None:
        super().__init__(message)
        self.files = list(files)


@dataclass
class LoadResult:
    load: RegistryLoad
    files: list[FileStats]
    seconds: float
    pruned: list[str] = field(default_factory=list)
    skipped_outside: int = 0

    def summary(self) -> str:
        load = self.load
        rate = (load.rows_added + load.rows_deleted) / max(self.seconds, 1e-9)
        skipped = f", {load.lines_skipped:,} lines skipped" if load.lines_skipped else ""
        if load.kind == LoadKind.FULL:
            what = (
                "the whole list"
                if load.area_codes == [ALL_AREA_CODES]
                else f"{len(load.area_codes)} area code{'s' if len(load.area_codes) != 1 else ''}"
            )
            body = f"{load.rows_added:,} rows for {what}"
        else:
            body = (
                f"+{load.rows_added:,} added, -{load.rows_deleted:,} deleted,"
                f" {len(load.area_codes)} area code copies now as of {load.as_of}"
            )
        return (
            f"{load.source} {load.kind} as of {load.as_of}: {body} from {len(self.files)}"
            f" file{'s' if len(self.files) != 1 else ''}{skipped} in {self.seconds:.1f} s"
            f" ({rate:,.0f} rows/s); load #{load.pk}, generation {load.generation}"
        )


AfterBlock = Callable[[int], None]


def registry_load(
    *,
    source: str,
    kind: str,
    inputs: Sequence[RegistryInput],
    as_of: date,
    actor: str,
    skip_bad: bool = False,
    progress: Progress | None = None,
    after_block: AfterBlock | None = None,
) -> LoadResult:
    """Load full lists or change lists for one source, atomically.

    1. Check the arguments; take the load lock (one load at a time).
    2. Full: COPY every file's numbers, as it is parsed, into new tables (one
       per area code, on two connections at once for a big load); index them,
       attach them to a new load table, attach that to the registry and point
       the coverage of what it covers at it.
       Changes: parse every file; keep, per number, its last change that
       changes something (the index of the version in force says, else
       PostgreSQL); record those beside the full lists in force (their rows
       are never rewritten) and bring the source's copies up to the as-of date.
    3. A file with bad lines refuses the whole load, unless `skip_bad`.
    4. Bump the generation (in-memory indexes follow it), record the load and
       its audit event, commit; then drop partitions no longer in force.
    """
    source = _clean_source(source)
    kind = LoadKind(kind)
    if not inputs:
        raise ValidationError("Give at least one file.")
    if as_of > timezone.now().date() + timedelta(days=1):
        raise ValidationError({"as_of": "The as-of date is in the future."})
    for item in inputs:
        if not item.path.is_file():
            raise ValidationError({"files": f"Not a readable file: {item.path.name}"})
    if progress is None:
        progress = Progress(_Null(), total=1, label="", tty=False, interval=3600)
    progress.total = max(sum(uncompressed_size(item.path) for item in inputs), 1)
    started = time.monotonic()
    started_at = timezone.now()
    files: list[FileStats] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            storage.lock_loads(cursor)
            load = RegistryLoad.objects.create(
                source=source,
                kind=kind,
                as_of=as_of,
                generation=0,
                started_at=started_at,
                finished_at=started_at,
                loaded_by=actor,
            )
            if kind == LoadKind.FULL:
                skipped_outside = 0
                _full(cursor, load, inputs, files, skip_bad, progress, after_block)
            else:
                skipped_outside = _changes(cursor, load, inputs, files, skip_bad, progress)
            load.generation = storage.next_generation(cursor)
            load.files = [stats.record() for stats in files]
            load.lines_skipped = sum(stats.bad for stats in files) + skipped_outside
            load.finished_at = timezone.now()
            load.save()
            audit_record(
                actor=actor,
                action="dnc.registry_loaded",
                object_type="dnc_registry_load",
                object_id=load.pk,
                data={
                    "source": source,
                    "kind": kind.value,
                    "as_of": as_of.isoformat(),
                    "area_codes": len(load.area_codes),
                    "rows_added": load.rows_added,
                    "rows_deleted": load.rows_deleted,
                    "lines_skipped": load.lines_skipped,
                    "generation": load.generation,
                    "files": [{"name": f.name, "sha256": f.sha256} for f in files],
                },
            )
    except RegistryRefused as refused:
        audit_record(
            actor=actor,
            action="dnc.registry_load_refused",
            object_type="dnc_registry_load",
            reason=str(refused),
            data={
                "source": source,
                "kind": kind.value,
                "files": [
                    {"name": f.name, "sha256": f.sha256, "bad": f.bad} for f in refused.files
                ],
            },
        )
        raise
    progress.finish()
    seconds = time.monotonic() - started
    return LoadResult(
        load=load,
        files=files,
        seconds=seconds,
        pruned=storage.partitions_prune(),
        skipped_outside=skipped_outside,
    )


def _full(
    cursor: Any,
    load: RegistryLoad,
    inputs: Sequence[RegistryInput],
    files: list[FileStats],
    skip_bad: bool,
    progress: Progress,
    after_block: AfterBlock | None,
) -> None:
    storage.load_table_create(cursor, load.pk)
    refusing = False
    lanes = 2 if progress.total >= storage.LANES_FROM_BYTES else 1
    with storage.AreaWriter(cursor, load.pk, lanes) as writer:
        for item in inputs:
            stats = FileStats(name=item.path.name)
            files.append(stats)
            parser = BlockParser(LineMode.FULL, stats)
            for member, block in file_blocks(item.path, stats):
                parsed = parser.parse(member, block)
                refusing = refusing or (stats.bad > 0 and not skip_bad)
                if not refusing:
                    writer.write(parsed.keys)
                progress.advance(nbytes=parsed.bytes_read, rows=len(parsed.keys))
                if after_block is not None:
                    after_block(writer.rows)
        _refuse_bad(files, skip_bad)
        whole = load.source != NATIONAL
        area_codes = [ALL_AREA_CODES] if whole else sorted(writer.tables)
        if not area_codes:
            raise RegistryRefused("The files hold no numbers: nothing to load.", files)
        progress.phase(f"{writer.rows:,} rows copied; indexing")
        writer.finish()
    storage.coverage_replace(
        cursor,
        source=load.source,
        area_codes=area_codes,
        load_id=load.pk,
        as_of=load.as_of,
        whole=whole,
    )
    load.area_codes = area_codes
    load.rows_added = writer.rows


def _changes(
    cursor: Any,
    load: RegistryLoad,
    inputs: Sequence[RegistryInput],
    files: list[FileStats],
    skip_bad: bool,
    progress: Progress,
) -> int:
    """Apply a change list; returns the additions skipped for lack of a full list."""
    keys_parts: list[Keys] = []
    ops_parts: list[np.ndarray[Any, Any]] = []
    order_parts: list[np.ndarray[Any, Any]] = []
    for index, item in enumerate(inputs):
        stats = FileStats(name=item.path.name)
        files.append(stats)
        mode = item.mode if item.mode is not LineMode.FULL else LineMode.MARKED
        parser = BlockParser(mode, stats)
        for member, block in file_blocks(item.path, stats):
            parsed = parser.parse(member, block)
            keys_parts.append(parsed.keys)
            ops_parts.append(parsed.ops)
            order_parts.append(parsed.lines + (index << 40))
            progress.advance(nbytes=parsed.bytes_read, rows=len(parsed.keys))
    _refuse_bad(files, skip_bad)
    copies = storage.in_force(cursor, load.source)
    if not copies:
        raise RegistryRefused(f"No full list of {load.source} is loaded: load one first.", files)
    newer = sorted({as_of for _, as_of in copies.values() if as_of > load.as_of})
    if newer:
        raise RegistryRefused(
            f"This change list (as of {load.as_of}) is older than a copy it would change"
            f" (as of {newer[-1]}).",
            files,
        )
    keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64)
    ops = np.concatenate(ops_parts) if ops_parts else np.zeros(0, np.int8)
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, np.int64)
    # The last line about a number wins (an add then a delete is a delete).
    ordered = np.argsort(order, kind="stable")[::-1]
    _, last = np.unique(keys[ordered], return_index=True)
    keys, ops = keys[ordered][last], ops[ordered][last]

    load_of_area = np.zeros(1000, np.int64)
    for area, (load_id, _) in copies.items():
        if area == ALL_AREA_CODES:
            load_of_area[:] = load_id
        else:
            load_of_area[area] = load_id
    target = load_of_area[keys // AREA_SPAN]
    covered = target > 0
    listed = np.zeros(len(keys), np.bool_)
    listed[covered] = _listed_now(cursor, load.source, keys[covered], target[covered])
    # Only what changes something: a number listed is not added again, nor one unlisted deleted.
    adds, deletes = (ops == ADD) & covered & ~listed, (ops == DELETE) & covered & listed
    progress.phase(f"{int(adds.sum()):,} additions and {int(deletes.sum()):,} deletions; applying")
    added, deleted = changes.changes_apply(
        cursor,
        adds=keys[adds],
        add_loads=target[adds],
        deletes=keys[deletes],
        delete_loads=target[deletes],
    )
    storage.coverage_touch(cursor, source=load.source, load_id=load.pk, as_of=load.as_of)
    load.area_codes = sorted(copies)
    load.rows_added = added
    load.rows_deleted = deleted
    return int(((ops == ADD) & (target == 0)).sum())


def _listed_now(cursor: Any, source: str, keys: Keys, load_ids: Keys) -> Mask:
    """Which keys the copies in force of `source` list: from this machine's index of the
    version in force when it has one (the load lock keeps that version), else PostgreSQL."""
    index = index_for(storage.current_version(cursor))
    if index is not None and source in index.sources:
        return index.contains(keys)[source]
    return changes.changes_listed(cursor, keys, load_ids)


def _refuse_bad(files: Sequence[FileStats], skip_bad: bool) -> None:
    bad = [stats for stats in files if stats.bad]
    if bad and not skip_bad:
        reports = "\n".join(stats.bad_report() for stats in bad)
        raise RegistryRefused(
            f"Refused: {sum(s.bad for s in bad):,} bad lines; nothing was loaded"
            f" (--skip-bad loads the good lines).\n{reports}",
            files,
        )


def _clean_source(source: str) -> str:
    source = source.strip()
    if source.lower().startswith("state:"):
        source = "state:" + source[6:].upper()
    if not SOURCE.fullmatch(source) or (
        source != NATIONAL and us.states.lookup(source[6:], field="abbr") is None
    ):
        raise ValidationError({"source": "Use national or state:XX (e.g. state:FL)."})
    return source


class _Null:
    def write(self, text: str) -> object:
        return None
