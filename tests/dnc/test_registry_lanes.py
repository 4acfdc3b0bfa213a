"""A big full load builds half its area tables on a second connection: the same registry,
still all or nothing, nothing left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from dnc.models import RegistryCoverage, RegistryLoad
from dnc.registry import storage
from dnc.registry.load import RegistryRefused
from dnc.registry.storage import current_version, partitions_prune
from dnc.selectors import dnc_status
from tests.dnc.conftest import load, write

AREAS = (212, 305, 415, 617, 718)


@pytest.fixture
def two_lanes(transactional_db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every full load on two connections (the second one commits on its own, hence a
    database that really commits), and the registry emptied afterwards."""
    monkeypatch.setattr(storage, "LANES_FROM_BYTES", 0)
    yield
    RegistryCoverage.objects.all().delete()
    partitions_prune()


def _relations() -> dict[str, tuple[str, bool]]:
    """name -> (kind, is a partition) of every registry table and index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relkind, relispartition FROM pg_class WHERE relname LIKE %s",
            ["dnc\\_regnum\\_%"],
        )
        return {name: (kind, part) for name, kind, part in cursor.fetchall()}


def _files(tmp_path: Path, line: str) -> list[Path]:
    return [write(tmp_path / f"{area}.txt", [f"{area}555{line}"]) for area in AREAS]


def test_a_load_on_two_connections_attaches_every_area_table(
    two_lanes: Any, tmp_path: Path
) -> None:
    result = load("national", *_files(tmp_path, "0101"))
    assert result.load.rows_added == len(AREAS)
    for area in AREAS:
        assert dnc_status(number_e164=f"+1{area}5550101").national
        assert not dnc_status(number_e164=f"+1{area}5550102").national
    relations = _relations()
    # Each area table and its index is a partition of the load's: none was left aside.
    assert all(part for name, (kind, part) in relations.items() if kind in "ri")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(%s)",
            [f"dnc_regnum_{result.load.pk}"],
        )
        assert cursor.fetchone()[0] == len(AREAS) + 2  # and the tables of changes


def test_a_refused_load_on_two_connections_leaves_nothing(two_lanes: Any, tmp_path: Path) -> None:
    load("national", *_files(tmp_path, "0101"))
    generation = current_version(connection.cursor()).generation
    before = _relations()
    (tmp_path / "new").mkdir()
    files = [*_files(tmp_path / "new", "0202"), write(tmp_path / "bad.txt", ["8005550101 x"])]
    with pytest.raises(RegistryRefused):
        load("national", *files)
    assert _relations() == before
    assert RegistryLoad.objects.count() == 1
    assert current_version(connection.cursor()).generation == generation
    assert dnc_status(number_e164="+12125550101").national
    assert not dnc_status(number_e164="+12125550202").national


def test_the_tables_of_a_load_that_failed_after_the_second_commit_are_pruned(
    two_lanes: Any,
) -> None:
    # What the second connection commits before the load's own transaction fails.
    with connection.cursor() as cursor:
        storage.area_table_create(cursor, 999_999, 212)
    assert _relations() == {"dnc_regnum_999999_212": ("r", False)}
    assert partitions_prune() == ["dnc_regnum_999999_212"]
    assert _relations() == {}
