"""DNC fixtures: a private index directory, and registry files written on the fly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.actors import actor_system
from dnc.registry.load import LoadResult, RegistryInput, registry_load
from dnc.registry.parse import LineMode

SYSTEM = actor_system("tests")
AS_OF = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def index_dir(settings: Any, tmp_path: Path) -> Path:
    """A private index directory, and no index or list copy kept from another test."""
    from dnc import index, internal_list, selectors

    settings.DNC_INDEX_DIR = str(tmp_path / "index")
    index._current = None
    selectors._coverage_cache = None
    internal_list._internal = internal_list._EMPTY
    return tmp_path / "index"


def write(path: Path, lines: Iterable[str], *, newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline)
    return path


def load(
    source: str,
    *paths: Path,
    kind: str = "full",
    as_of: date = AS_OF,
    mode: LineMode = LineMode.FULL,
    **kwargs: Any,
) -> LoadResult:
    return registry_load(
        source=source,
        kind=kind,
        inputs=[RegistryInput(p, mode) for p in paths],
        as_of=as_of,
        actor=SYSTEM,
        **kwargs,
    )
