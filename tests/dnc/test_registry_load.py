"""Registry loads: atomic snapshots, defensive parsing, change lists, freshness, the index."""

from __future__ import annotations

import zipfile
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEvent
from dnc.index import index_build, index_path
from dnc.keys import key_from_e164
from dnc.models import ALL_AREA_CODES, RegistryCoverage, RegistryLoad
from dnc.registry.load import RegistryRefused
from dnc.registry.parse import LineMode
from dnc.registry.storage import current_version
from dnc.selectors import dnc_scrub_keys, dnc_status, dnc_status_many, registry_as_of_many
from tests.dnc.conftest import AS_OF, load, write

pytestmark = pytest.mark.django_db


def _national(number: str) -> bool:
    return dnc_status(number_e164=number).national


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'dnc_regnum_%%' AND relkind = 'p'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_every_common_writing_of_a_number_loads_and_matches(tmp_path: Path) -> None:
    lines = [
        "PhoneNumber",  # a header
        "2125550101",
        "212,5550102",
        "212-555-0103",
        "  212 555 0104  ",
        "1-212-555-0105",
        "12125550106",
        "(212) 555-0107",
        "212.555.0108",
        "",
    ]
    path = write(tmp_path / "212.txt", lines, newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte-order mark, too
    result = load("national", path)
    assert result.load.rows_added == 8
    assert result.files[0].headers == 1 and result.files[0].blank == 1
    for ending in range(1, 9):
        assert _national(f"+1212555010{ending}")
    assert not _national("+12125550109")
    asked = ["(212) 555-0101", "212.555.0102", "+1 212 555 0103", "2125550104", "+12125550109"]
    assert [s.national for s in dnc_status_many(numbers=asked).values()] == [True] * 4 + [False]


def test_zipped_files_load_and_report_their_checksum(tmp_path: Path) -> None:
    archive = tmp_path / "national.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("212.txt", "2125550101\n2125550102\n")
        out.writestr("305.txt", "305,5550103")  # no final newline
    result = load("national", archive)
    import hashlib

    assert result.load.files[0]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert sorted(result.load.area_codes) == [212, 305]
    assert _national("+13055550103") and _national("+12125550102")


def test_a_full_list_replaces_only_the_area_codes_it_covers(tmp_path: Path) -> None:
    load(
        "national", write(tmp_path / "a.txt", ["2125550101", "3055550101"]), as_of=date(2026, 11, 1)
    )
    load("national", write(tmp_path / "b.txt", ["2125550202"]), as_of=AS_OF)
    assert not _national("+12125550101") and _national("+12125550202")
    assert _national("+13055550101")
    as_of = {(c.source, c.area_code): c.as_of for c in RegistryCoverage.objects.all()}
    assert as_of == {("national", 212): AS_OF, ("national", 305): date(2026, 11, 1)}


def test_a_bad_line_refuses_the_whole_load_and_names_lines_not_numbers(tmp_path: Path) -> None:
    good = write(tmp_path / "212.txt", ["2125550101"])
    load("national", good)
    generation = current_version(connection.cursor()).generation
    bad = write(
        tmp_path / "305.txt",
        ["3055550101"] + [f"305555{i:04d} extra" for i in range(25)] + ["0555550101"],
    )
    with pytest.raises(RegistryRefused) as caught:
        load("national", good, bad)
    message = str(caught.value)
    assert "26 bad lines" in message and "line 2:" in message and "and 6 more" in message
    assert "3055550101" not in message and "555" not in message.replace("305.txt", "")
    # Nothing changed: the previous snapshot is in force, no table was left behind.
    assert _national("+12125550101") and not _national("+13055550101")
    assert RegistryLoad.objects.count() == 1
    assert current_version(connection.cursor()).generation == generation
    assert len(_tables()) == 1
    refused = AuditEvent.objects.get(action="dnc.registry_load_refused")
    assert refused.data["files"][1]["bad"] == 26


def test_skip_bad_loads_the_good_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "305.txt", ["3055550101", "305-555-01", "call after 5", "3055550102"])
    result = load("national", path, skip_bad=True)
    assert result.load.rows_added == 2 and result.load.lines_skipped == 2
    assert _national("+13055550102")


def test_a_load_killed_midway_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    load("national", write(tmp_path / "old.txt", ["2125550101"]))
    generation = current_version(connection.cursor()).generation
    new = tmp_path / "new.txt"
    keys = 2125550000 + np.arange(2_000_000, dtype=np.int64) * 3
    new.write_bytes(b"\n".join(str(k).encode() for k in keys[:400_000].tolist()) + b"\n")
    before = set(_tables())

    def crash(rows: int) -> None:
        if rows:
            raise KeyboardInterrupt  # as if killed after the first rows went in

    with pytest.raises(KeyboardInterrupt):
        load("national", new, after_block=crash)
    assert _national("+12125550101")
    assert not _national("+12125550000")
    assert _tables() == before
    assert RegistryLoad.objects.count() == 1
    assert current_version(connection.cursor()).generation == generation


def test_a_change_list_removes_and_adds(tmp_path: Path) -> None:
    load("national", write(tmp_path / "212.txt", ["2125550101", "2125550102", "2125550103"]))
    load("state:FL", write(tmp_path / "fl.txt", ["3055550101"]))
    changes = write(
        tmp_path / "changes.txt",
        [
            "2125550101,D",
            "A,2125550201",
            "add 212-555-0202",
            "2125550103,A",  # already there: nothing to do
            "2125550203,A",
            "2125550203,D",  # the last line about a number wins
            "6025550101,A",  # no full list for 602: skipped
        ],
    )
    result = load("national", changes, kind="changes", as_of=date(2026, 11, 21))
    assert (result.load.rows_added, result.load.rows_deleted) == (2, 1)
    assert result.skipped_outside == 1
    assert [_national(f"+1212555{n}") for n in ("0101", "0102", "0201", "0202", "0203")] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert not _national("+16025550101")
    assert RegistryCoverage.objects.get(source="national").as_of == date(2026, 11, 21)
    assert RegistryCoverage.objects.get(source="state:FL").as_of == AS_OF
    # Applying it again changes nothing.
    again = load("national", changes, kind="changes", as_of=date(2026, 11, 21))
    assert (again.load.rows_added, again.load.rows_deleted) == (0, 0)
    # Whole files of additions or deletions, and a change list older than the copy.
    load(
        "national",
        write(tmp_path / "d.txt", ["2125550102"]),
        kind="changes",
        mode=LineMode.DELETE,
        as_of=date(2026, 11, 22),
    )
    assert not _national("+12125550102")
    with pytest.raises(RegistryRefused, match="older"):
        load(
            "national",
            write(tmp_path / "o.txt", ["2125550999,A"]),
            kind="changes",
            as_of=date(2026, 11, 2),
        )


def test_a_state_list_covers_the_whole_state(tmp_path: Path) -> None:
    load("national", write(tmp_path / "305.txt", ["3055550101"]), as_of=date(2026, 11, 10))
    load("state:fl", write(tmp_path / "fl.txt", ["3055550101", "2125550101"]), as_of=AS_OF)
    assert RegistryCoverage.objects.get(source="state:FL").area_code == ALL_AREA_CODES
    assert dnc_status(number_e164="+12125550101").states == frozenset({"FL"})
    statuses = dnc_status_many(numbers=["+13055550101", "+16025550101"])
    assert statuses["+13055550101"].national and statuses["+13055550101"].states == {"FL"}
    as_of = registry_as_of_many(numbers=["+13055550999", "+16025550101", "not a number"])
    assert as_of["+13055550999"].national == date(2026, 11, 10)
    assert as_of["+13055550999"].states == {"FL": AS_OF}
    assert as_of["+16025550101"].national is None  # no national copy for 602: registry_stale
    assert as_of["+16025550101"].states == {"FL": AS_OF}
    assert "not a number" not in as_of


def test_the_index_answers_like_postgres_and_never_when_stale(
    tmp_path: Path, index_dir: Path
) -> None:
    rng = np.random.default_rng(7)
    areas = np.array([212, 305, 602])
    listed = np.unique(
        areas[rng.integers(0, 3, 30_000)] * 10_000_000 + rng.integers(2_000_000, 10_000_000, 30_000)
    )
    (tmp_path / "n.txt").write_text("\n".join(map(str, listed.tolist())) + "\n")
    load("national", tmp_path / "n.txt")
    load("state:TX", write(tmp_path / "tx.txt", [str(k) for k in listed[::7].tolist()]))
    probe = np.concatenate(
        [
            listed[::3],
            areas[rng.integers(0, 3, 20_000)] * 10_000_000 + rng.integers(0, 10_000_000, 20_000),
            [7185550101],
        ]
    )
    by_postgres = dnc_scrub_keys(keys=probe, engine="postgres")
    assert by_postgres.engine == "postgres"  # no index file yet
    assert dnc_scrub_keys(keys=probe).engine == "postgres"
    path, numbers = index_build()
    assert numbers == len(listed) + len(listed[::7])
    by_index = dnc_scrub_keys(keys=probe)
    assert by_index.engine == "index"
    assert np.array_equal(by_index.national, by_postgres.national)
    assert np.array_equal(by_index.states["TX"], by_postgres.states["TX"])
    assert by_index.national.sum() > 10_000
    one = int(listed[5])
    assert dnc_status(number_e164=f"+1{one}").national
    # A new load makes the index stale: it is never used again, PostgreSQL answers.
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    assert index_path(current_version(connection.cursor()).stamp) != path
    after = dnc_scrub_keys(keys=np.array([2125550101, one], np.int64))
    assert after.engine == "postgres"
    assert after.national[0]
    assert bool(after.national[1]) == (one // 10_000_000 != 212)
    assert dnc_status(number_e164="+12125550101").national


def test_a_half_written_index_file_is_never_used(tmp_path: Path, index_dir: Path) -> None:
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    path, _ = index_build()
    path.write_bytes(path.read_bytes()[:-10])  # truncated, as if the build was cut short
    from dnc import index

    index._current = None
    assert dnc_scrub_keys(keys=np.array([2125550101])).engine == "postgres"


def test_an_index_of_the_same_generation_but_another_stamp_is_never_used(
    tmp_path: Path, index_dir: Path
) -> None:
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    index_build()
    assert dnc_scrub_keys(keys=np.array([2125550101])).engine == "index"
    # Another database, or this one restored and loaded again, at the same generation.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE dnc_registrystate SET stamp = gen_random_uuid()::text")
        cursor.execute("DELETE FROM dnc_registrycoverage")
    after = dnc_scrub_keys(keys=np.array([2125550101]))
    assert after.engine == "postgres" and not after.national[0]
    assert not dnc_status(number_e164="+12125550101").national


def test_the_command_prints_progress_and_a_summary(tmp_path: Path, index_dir: Path) -> None:
    path = write(tmp_path / "212.txt", ["2125550101", "2125550102"])
    out, err = StringIO(), StringIO()
    call_command(
        "load_dnc_registry",
        "--source",
        "national",
        "--full",
        str(path),
        "--as-of",
        "2026-11-20",
        stdout=out,
        stderr=err,
    )
    summary = out.getvalue().strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith(
        "national full as of 2026-11-20: 2 rows for 1 area code from 1 file"
    )
    assert "national full:" in err.getvalue() and "index: registry-" in err.getvalue()
    assert "\r" not in err.getvalue()  # not a terminal: lines, not a bar
    assert dnc_scrub_keys(keys=np.array([key_from_e164("+12125550102")])).national[0]
    bad = write(tmp_path / "bad.txt", ["2125550101", "oops 1"])
    with pytest.raises(CommandError, match="line 2"):
        call_command(
            "load_dnc_registry", "--source", "national", "--full", str(bad), stdout=out, stderr=err
        )
    with pytest.raises(CommandError, match="national or state"):
        call_command(
            "load_dnc_registry", "--source", "nation", "--full", str(path), stdout=out, stderr=err
        )


def test_no_number_reaches_a_log_or_an_error(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    with pytest.raises(RegistryRefused) as caught:
        load("national", write(tmp_path / "bad.txt", ["2125550177 x", "212555017"]))
    dnc_status_many(numbers=["+12125550101", "(212) 555-0177"])
    for text in (caplog.text, str(caught.value)):
        for fragment in ("5550101", "5550177", "555017"):
            assert fragment not in text


def test_build_dnc_index_builds_once(tmp_path: Path, index_dir: Path) -> None:
    with pytest.raises(CommandError, match="no registry"):
        call_command("build_dnc_index", stdout=StringIO())
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    out = StringIO()
    call_command("build_dnc_index", "--if-missing", stdout=out)
    assert "(1 numbers) built" in out.getvalue()
    out = StringIO()
    call_command("build_dnc_index", "--if-missing", stdout=out)
    assert "is current" in out.getvalue()
