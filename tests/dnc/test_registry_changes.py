"""Change lists at scale: recorded beside the full list, never rewriting it; the index agrees."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import connection

from dnc import index as dense
from dnc.index import CHUNK, index_build
from dnc.models import RegistryCoverage
from dnc.registry.parse import LineMode
from dnc.selectors import dnc_scrub_keys, dnc_status
from tests.dnc.conftest import AS_OF, load, write

pytestmark = pytest.mark.django_db

A, B, C, D = 2125550101, 2125550102, 2125550103, 2125550104


def _listed(*keys: int) -> list[bool]:
    """Per key, whether the national registry lists it, asked of PostgreSQL one by one."""
    return [dnc_status(number_e164=f"+1{key}").national for key in keys]


def _rows(table: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT number FROM {table} ORDER BY number")  # noqa: S608 (test tables)
        return [row[0] for row in cursor.fetchall()]


def _changes(tmp_path: Path, name: str, lines: list[str], day: int) -> tuple[int, int]:
    result = load(
        "national",
        write(tmp_path / name, lines),
        kind="changes",
        mode=LineMode.MARKED,
        as_of=AS_OF + timedelta(days=day),
    )
    return result.load.rows_added, result.load.rows_deleted


@pytest.mark.parametrize("with_index", [False, True], ids=["postgres", "index"])
def test_changes_take_each_other_back_and_leave_the_full_list_alone(
    tmp_path: Path, with_index: bool
) -> None:
    full = load("national", write(tmp_path / "212.txt", [str(A), str(B), str(C)]))
    area_table = f"dnc_regnum_{full.load.pk}_212"
    if with_index:  # as load_dnc_registry leaves it: the change list reads the index
        index_build()
    assert _changes(tmp_path, "1.txt", [f"{A},D", f"{D},A", f"{C},A"], 1) == (1, 1)
    assert _listed(A, B, C, D) == [False, True, True, True]
    if with_index:
        index_build()
    # An addition takes back a deletion, a deletion an addition; a deletion of B is new.
    assert _changes(tmp_path, "2.txt", [f"{A},A", f"{D},D", f"{B},D"], 2) == (1, 2)
    assert _listed(A, B, C, D) == [True, False, True, False]
    # The full list's rows are untouched; the changes hold only what is still changed.
    prefix = f"dnc_regnum_{full.load.pk}"
    assert _rows(area_table) == [A, B, C]
    assert _rows(f"{prefix}_removed") == [-B]
    assert _rows(f"{prefix}_added") == []
    # Applied again, nothing changes.
    assert _changes(tmp_path, "2.txt", [f"{A},A", f"{D},D", f"{B},D"], 2) == (0, 0)
    index_build()
    probe = np.array([A, B, C, D], np.int64)
    assert dnc_scrub_keys(keys=probe).national.tolist() == [True, False, True, False]
    by_postgres = dnc_scrub_keys(keys=probe, engine="postgres")
    assert by_postgres.engine == "postgres"
    assert by_postgres.national.tolist() == [True, False, True, False]


def test_a_new_full_list_starts_without_the_changes_of_the_old(tmp_path: Path) -> None:
    load("national", write(tmp_path / "old.txt", [str(A), "3055550101"]))
    assert _changes(tmp_path, "c.txt", [f"{B},A", f"{A},D", "3055550102,A"], 1) == (2, 1)
    load("national", write(tmp_path / "new.txt", [str(A), str(C)]), as_of=AS_OF + timedelta(days=2))
    assert _listed(A, B, C) == [True, False, True]
    # 305 keeps the old load and its changes.
    assert _listed(3055550101, 3055550102) == [True, True]
    assert {c.area_code: c.as_of for c in RegistryCoverage.objects.all()} == {
        212: AS_OF + timedelta(days=2),
        305: AS_OF + timedelta(days=1),
    }
    index_build()
    keys = np.array([A, B, C, 3055550101, 3055550102], np.int64)
    assert dnc_scrub_keys(keys=keys).national.tolist() == [True, False, True, True, True]


def test_an_addition_in_an_area_code_of_a_state_list_without_numbers_there(
    tmp_path: Path,
) -> None:
    load("state:FL", write(tmp_path / "fl.txt", ["3055550101"]))
    result = load(
        "state:FL",
        write(tmp_path / "add.txt", ["7865550101"]),
        kind="changes",
        mode=LineMode.ADD,
        as_of=date(2026, 11, 21),
    )
    assert result.load.rows_added == 1
    assert dnc_status(number_e164="+17865550101").states == frozenset({"FL"})
    index_build()
    found = dnc_scrub_keys(keys=np.array([7865550101, 7865550102, 3055550101], np.int64))
    assert found.engine == "index"
    assert found.states["FL"].tolist() == [True, False, True]


def test_the_index_answers_every_key_like_postgres_across_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    listed = np.unique(212 * 10_000_000 + rng.integers(2_000_000, 10_000_000, 20_000))
    (tmp_path / "212.txt").write_text("\n".join(map(str, listed.tolist())) + "\n")
    load("national", tmp_path / "212.txt")
    index_build()
    probe = np.concatenate(
        [
            listed,
            212 * 10_000_000 + rng.integers(0, 10_000_000, CHUNK),
            [0, -2125550101, -1, 10**10, 10**10 + int(listed[0]), 2**62, 9999999999],
        ]
    )
    by_index = dnc_scrub_keys(keys=probe)
    assert by_index.engine == "index" and len(probe) > CHUNK
    assert np.array_equal(by_index.national, dnc_scrub_keys(keys=probe, engine="postgres").national)
    assert by_index.national[: len(listed)].all()
    assert not by_index.national[-7:].any()  # outside the keys of numbers: never listed
    mapped = dense.index_cached()
    assert mapped is not None
    assert mapped.contains_one(int(listed[3])) == ["national"]
    assert mapped.contains_one(-int(listed[3])) == [] and mapped.contains_one(10**10) == []
