"""Reads of the do-not-call lists: one number (dispatch), many numbers (planner, imports, scrubs).

Internal list: always from PostgreSQL for one number (by keyed hash, so a
request committed a second ago counts); for many numbers, from a copy of the
active entries kept in this process and brought up to date from PostgreSQL on
every call (`dnc.internal_list`). Each entry counts by its keyed hash, so an
entry whose number no key decrypts still lists it.

Registries: from the memory-mapped dense index (`dnc.index`) when its file
for the current version exists, else from PostgreSQL, which is always right.
An index of another version is never used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

import numpy as np
from django.db import connection, transaction

from common.crypto import keyed_hash
from common.together import Statement, fetch_all
from dnc.index import index_cached, index_for
from dnc.internal_list import internal_set
from dnc.keys import AREA_SPAN, Keys, Mask, key_from_e164, keys_from_numbers
from dnc.models import ALL_AREA_CODES
from dnc.registry.storage import LISTED_SQL, RegistryVersion, current_version

NATIONAL = "national"
STATE_PREFIX = "state:"
PG_CHUNK = 100_000
SCRUB_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class DncStatus:
    internal: bool
    national: bool
    states: frozenset[str]  # two-letter codes of the state lists that hold the number
    # Which registry generation answered (for the audit trail); not part of equality.
    registry_generation: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class RegistryAsOf:
    """As-of dates of the copies covering a number's area code; None where there is none."""

    national: date | None
    states: Mapping[str, date | None]  # every state list loaded, by two-letter code


@dataclass(frozen=True)
class Scrub:
    """The answer for an array of keys: one mask per list (states by two-letter code)."""

    internal: Mask
    national: Mask
    states: dict[str, Mask]
    generation: int
    engine: str


def dnc_status(*, number_e164: str) -> DncStatus:
    """One number, for dispatch: one round trip to PostgreSQL (plus a bit test in the index).

    Raises InvalidPhoneNumber (without the number) for anything but +1 E.164.
    """
    return _status_of(number_e164, fetch_all(dnc_one_statement(number_e164))[0])[0]


def dnc_one_statement(number_e164: str) -> Statement:
    """The read of one number's DNC status and registry version, for a caller that sends
    it with others (common.together); `dnc_one_answer` reads its row.

    With this machine's index mapped, only the internal list and the registry
    version are read (the registries are a bit test); otherwise the registries too.
    """
    if index_cached() is not None:
        return Statement(_ONE_INTERNAL, [keyed_hash(number_e164)])
    return _one_full_statement(number_e164)


def dnc_one_answer(number_e164: str, row: tuple[Any, ...]) -> tuple[DncStatus, RegistryAsOf]:
    """The status and registry as-of dates of one number from the row of
    `dnc_one_statement` (the coverage of the version read is kept in this process)."""
    status, version = _status_of(number_e164, row)
    area = key_from_e164(number_e164) // AREA_SPAN
    return status, _registry_as_of(_coverage(version.stamp), area)


def _status_of(number_e164: str, row: tuple[Any, ...]) -> tuple[DncStatus, RegistryVersion]:
    """The status from a row of `dnc_one_statement`. When the row leaves the registries to
    the index and the index mapped here is not of the version read, PostgreSQL answers."""
    key = key_from_e164(number_e164)
    generation, stamp, internal, sources = row
    version = RegistryVersion(generation or 0, stamp or "")
    index = index_for(version)  # mapped now for the next call when it was not
    if sources is None:
        if index is not None:
            return _status(internal, index.contains_one(key), version.generation), version
        generation, stamp, internal, sources = fetch_all(_one_full_statement(number_e164))[0]
        version = RegistryVersion(generation or 0, stamp or "")
    return _status(internal, sources, version.generation), version


def _one_full_statement(number_e164: str) -> Statement:
    key = key_from_e164(number_e164)
    return Statement(_ONE_FULL, [keyed_hash(number_e164), key // AREA_SPAN, key])


def dnc_status_many(*, numbers: Sequence[str]) -> dict[str, DncStatus]:
    """Many numbers at once, set-based; keyed by the strings given.

    Numbers in E.164 go the fast way; other common writings are accepted one by
    one. Strings that are not US numbers are left out of the answer.
    """
    keys, valid = keys_from_numbers(numbers)
    if not valid.any():
        return {}
    scrub = dnc_scrub_keys(keys=keys[valid])
    codes = scrub.internal.astype(np.int64) | (scrub.national.astype(np.int64) << 1)
    states = sorted(scrub.states)
    for bit, state in enumerate(states, start=2):
        codes |= scrub.states[state].astype(np.int64) << bit
    distinct, inverse = np.unique(codes, return_inverse=True)
    statuses = np.empty(len(distinct), dtype=object)
    for index, code in enumerate(distinct.tolist()):
        statuses[index] = DncStatus(
            internal=bool(code & 1),
            national=bool(code & 2),
            states=frozenset(s for bit, s in enumerate(states, start=2) if code >> bit & 1),
            registry_generation=scrub.generation,
        )
    given = [numbers[i] for i in np.flatnonzero(valid).tolist()] if not valid.all() else numbers
    return dict(zip(given, statuses[inverse].tolist(), strict=True))


def dnc_scrub_keys(*, keys: Keys, engine: str = "auto") -> Scrub:
    """The lists holding each key (10-digit numbers as int64), one pass per list.

    `engine`: "auto" (the index of the current generation when this machine has
    it, else PostgreSQL), "postgres", or "index" (LookupError when there is none).
    """
    keys = np.asarray(keys, np.int64)
    listed = internal_set()
    internal = np.empty(len(keys), np.bool_)
    for start in range(0, len(keys), SCRUB_CHUNK):  # cache-sized passes
        internal[start : start + SCRUB_CHUNK] = listed.contains(keys[start : start + SCRUB_CHUNK])
    with connection.cursor() as cursor:
        version = current_version(cursor)
    index = index_for(version) if engine in ("auto", "index") else None
    if index is None and engine == "index":
        raise LookupError(f"no index for registry generation {version.generation}")
    if index is not None:
        found, used = index.contains(keys), "index"
    else:
        found, used = _registry_postgres(keys), "postgres"
    return Scrub(
        internal=internal,
        national=found.pop(NATIONAL, np.zeros(len(keys), np.bool_)),
        states={source.removeprefix(STATE_PREFIX): mask for source, mask in found.items()},
        generation=version.generation,
        engine=used,
    )


def dnc_status_kept(
    *, number_hashes: Sequence[str], kept: Sequence[tuple[int, str]]
) -> list[DncStatus]:
    """Statuses of numbers that are not decrypted (a planning tick): the internal list by
    keyed hash, the registries from each phone's kept answer, (generation, sources joined
    by commas), of `dialer.listings`; the caller has checked that the generation is current."""
    internal = internal_set().holds_hashes(number_hashes)
    made: dict[tuple[bool, int, str], DncStatus] = {}
    out = []
    for listed, (generation, sources) in zip(internal, kept, strict=True):
        status = made.get((listed, generation, sources))
        if status is None:
            status = made[(listed, generation, sources)] = _status(
                listed, sources.split(",") if sources else (), generation
            )
        out.append(status)
    return out


def registry_as_of_many(*, numbers: Sequence[str]) -> dict[str, RegistryAsOf]:
    """Per number: as-of dates of the national copy of its area code and of every state list."""
    keys, _ = keys_from_numbers(numbers)
    per_area = registry_as_of_areas(areas={key // AREA_SPAN for key in keys.tolist() if key})
    return {
        number: per_area[key // AREA_SPAN]
        for number, key in zip(numbers, keys.tolist(), strict=True)
        if key
    }


def registry_as_of_areas(*, areas: Iterable[int]) -> dict[int, RegistryAsOf]:
    """Per area code: as-of dates of its national copy and of every state list."""
    coverage = _coverage()
    return {area: _registry_as_of(coverage, area) for area in set(areas)}


def _registry_as_of(coverage: Mapping[str, Mapping[int, date]], area: int) -> RegistryAsOf:
    return RegistryAsOf(
        national=_as_of(coverage.get(NATIONAL, {}), area),
        states=MappingProxyType(
            {
                source.removeprefix(STATE_PREFIX): _as_of(areas, area)
                for source, areas in coverage.items()
                if source != NATIONAL
            }
        ),
    )


def _as_of(areas: Mapping[int, date], area: int) -> date | None:
    return areas.get(area) or areas.get(ALL_AREA_CODES)


def _status(internal: bool, sources: Sequence[str], generation: int) -> DncStatus:
    return DncStatus(
        internal=bool(internal),
        national=NATIONAL in sources,
        states=frozenset(s.removeprefix(STATE_PREFIX) for s in sources if s != NATIONAL),
        registry_generation=generation,
    )


# The same columns as _ONE_FULL, the registries' left NULL (the index answers for them).
_ONE_INTERNAL = """
SELECT (SELECT generation FROM dnc_registrystate WHERE id = 1),
       (SELECT stamp FROM dnc_registrystate WHERE id = 1),
       EXISTS (SELECT 1 FROM dnc_internaldncentry WHERE number_hash = %s AND removed_at IS NULL),
       NULL::text[]
"""
_ONE_FULL = f"""
SELECT (SELECT generation FROM dnc_registrystate WHERE id = 1),
       (SELECT stamp FROM dnc_registrystate WHERE id = 1),
       EXISTS (SELECT 1 FROM dnc_internaldncentry WHERE number_hash = %s AND removed_at IS NULL),
       ARRAY(SELECT c.source FROM (SELECT %s::int AS area, %s::bigint AS number) q
             JOIN dnc_registrycoverage c ON c.area_code IN (q.area, 0)
             WHERE {LISTED_SQL.format(load="c.load_id", key="q.number")})
"""  # noqa: S608 (constants only)
# Each candidate meets the copies covering it (its area code's, and whole-list copies)
# by equi-joins, then index probes per copy: the correlated EXISTS keep each probe a
# parameterised lookup, pruned to one small table, whatever the planner thinks of the
# registry's size (a merge join would sort all of it).
_MANY = f"""
WITH q AS MATERIALIZED (
    SELECT number, i, (number / 10000000)::int AS area
    FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(number, i)
    WHERE number >= 0 AND number < 10000000000  -- no other key is a number
), copies AS (
    SELECT q.i, q.number, c.source, c.load_id
    FROM q JOIN dnc_registrycoverage c ON c.area_code = q.area
    UNION ALL
    SELECT q.i, q.number, c.source, c.load_id
    FROM q CROSS JOIN dnc_registrycoverage c WHERE c.area_code = 0
)
SELECT copies.i, copies.source FROM copies
WHERE {LISTED_SQL.format(load="copies.load_id", key="copies.number")}
"""  # noqa: S608 (constants only)


def _registry_postgres(keys: Keys) -> dict[str, Mask]:
    found: dict[str, Mask] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # Compiling this plan costs more than running it (its estimates are large).
        cursor.execute("SET LOCAL jit = off")
        for start in range(0, len(keys), PG_CHUNK):
            chunk = keys[start : start + PG_CHUNK].tolist()
            cursor.execute(_MANY, ["{" + ",".join(map(str, chunk)) + "}"])
            for position, source in cursor.fetchall():
                if source not in found:
                    found[source] = np.zeros(len(keys), np.bool_)
                found[source][start + position - 1] = True
    return found


# -- registry coverage, cached per version ---------------------------------------------

_coverage_cache: tuple[str, dict[str, dict[int, date]]] | None = None


def _coverage(stamp: str | None = None) -> dict[str, dict[int, date]]:
    """The as-of date of every copy in force, by source and area code.

    A version's coverage never changes (a load writes both in one transaction),
    so it is kept per stamp; `stamp` is the version the caller has just read.
    """
    cached = _coverage_cache
    if stamp and cached is not None and cached[0] == stamp:
        return cached[1]
    with connection.cursor() as cursor:
        stamp = current_version(cursor).stamp
        if cached is not None and stamp and cached[0] == stamp:
            return cached[1]
        cursor.execute(
            "SELECT (SELECT stamp FROM dnc_registrystate WHERE id = 1),"
            " c.source, c.area_code, c.as_of FROM dnc_registrycoverage c"
        )
        rows = cursor.fetchall()
    coverage: dict[str, dict[int, date]] = {}
    for _, source, area, as_of in rows:
        coverage.setdefault(source, {})[int(area)] = as_of
    # Kept only when read in one version and committed: read in a transaction, it may be
    # that transaction's own load, so it is kept once (and if) that transaction commits.
    if stamp and all(row[0] == stamp for row in rows):
        _coverage_keep(stamp, coverage)
    return coverage


def _coverage_keep(stamp: str, coverage: dict[str, dict[int, date]]) -> None:
    def keep() -> None:
        global _coverage_cache
        _coverage_cache = (stamp, coverage)

    if connection.in_atomic_block:
        transaction.on_commit(keep)
    else:
        keep()
