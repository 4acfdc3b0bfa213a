"""load_rnd_results: RND answers from a results file, by header names, plain or zipped, atomic."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from common.crypto import keyed_hash, keyed_hasher
from dnc.models import RndAnswer
from dnc.rnd.selectors import rnd_answers_many
from tests.dnc.conftest import write

pytestmark = pytest.mark.django_db

A, B, C = "+12125550101", "+12125550102", "+13055550103"


def _recent(days: int = 3) -> str:
    return (timezone.now() - timedelta(days=days)).replace(microsecond=0).isoformat()


def _answers() -> dict[tuple[str, date], tuple[str, datetime]]:
    return {
        (row.number_hash, row.consent_date): (row.result, row.queried_at)
        for row in RndAnswer.objects.all()
    }


def _run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("load_rnd_results", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_keyed_hasher_is_the_keyed_hash() -> None:
    assert keyed_hasher()(A) == keyed_hash(A)
    assert keyed_hasher(purpose="other")(A) == keyed_hash(A, purpose="other")


def test_it_reads_columns_by_their_header_names(tmp_path: Path) -> None:
    queried = _recent()
    path = write(
        tmp_path / "results.csv",
        [
            "Result,queried_at,extra,NUMBER,consent_date",
            f"yes,{queried},x,(212) 555-0101,2024-03-01",
            f"NO,{queried},x,2125550102,2024-03-01",
            f"no_data,{queried},x,1-305-555-0103,2020-12-01",
        ],
    )
    summary = _run(path)
    assert "3 rows (1 yes, 1 no, 1 no_data)" in summary
    assert "555" not in summary
    found = rnd_answers_many(numbers=[A, B, C])
    assert [a.result for a in found[A]] == ["yes"]
    assert found[B][0].consent_date == date(2024, 3, 1)
    assert found[C][0].result == "no_data"
    assert found[C][0].queried_at == datetime.fromisoformat(queried)
    # Only keyed hashes are stored.
    assert {h for h, _ in _answers()} == {keyed_hash(n) for n in (A, B, C)}
    assert AuditEvent.objects.filter(action="dnc.rnd_results_loaded").count() == 1


def test_a_zipped_file_loads_like_a_plain_one(tmp_path: Path) -> None:
    plain = write(
        tmp_path / "r.csv",
        ["number,consent_date,result,queried_at", f"{A},2024-01-02,no,{_recent()}"],
    )
    archive = tmp_path / "r.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(plain, "results.csv")
    _run(archive)
    assert rnd_answers_many(numbers=[A])[A][0].result == "no"


def test_bad_lines_refuse_the_whole_file_by_line_number_only(tmp_path: Path) -> None:
    RndAnswer.objects.create(
        number_hash=keyed_hash(A),
        consent_date=date(2024, 1, 2),
        result="no",
        queried_at=timezone.now() - timedelta(days=40),
        source="file:old.csv",
    )
    before = _answers()
    future = (timezone.now() + timedelta(days=5)).isoformat()
    path = write(
        tmp_path / "bad.csv",
        [
            "number,consent_date,result,queried_at",
            f"{A},2024-01-02,yes,{_recent()}",  # line 2: good
            f"212555010,2024-01-02,no,{_recent()}",  # 3: nine digits
            f"{B},01/02/2024,no,{_recent()}",  # 4: not ISO
            f"{B},2024-01-02,maybe,{_recent()}",  # 5
            f"{B},2024-01-02,no,yesterday",  # 6
            f"{B},2024-01-02,no,{future}",  # 7
            f"{B},2024-01-02",  # 8
            "",  # blank: skipped, not bad
            f"{B},2026-01-02,no,2025-12-01T00:00:00Z",  # 10: answered before the date asked
        ],
    )
    with pytest.raises(CommandError) as refused:
        _run(path)
    message = str(refused.value)
    for line in (3, 4, 5, 6, 7, 8, 10):
        assert f"line {line}:" in message
    assert "line 2:" not in message and "line 9:" not in message
    assert "555" not in message
    assert _answers() == before  # nothing changed, not even the good line
    assert AuditEvent.objects.filter(action="dnc.rnd_results_refused").count() == 1

    summary = _run(path, "--skip-bad")
    assert "7 bad lines skipped" in summary
    assert rnd_answers_many(numbers=[A])[A][0].result == "yes"


def test_a_header_without_a_column_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv", ["number,date,result,queried_at", f"{A},2024-01-02,no,{_recent()}"]
    )
    with pytest.raises(CommandError, match="header must name the columns"):
        _run(path, "--skip-bad")
    assert not RndAnswer.objects.exists()


def test_the_newest_answer_for_a_number_and_date_wins(tmp_path: Path) -> None:
    header = "number,consent_date,result,queried_at"
    _run(write(tmp_path / "1.csv", [header, f"{A},2024-01-02,no,{_recent(2)}"]))
    _run(write(tmp_path / "2.csv", [header, f"{A},2024-01-02,yes,{_recent(10)}"]))  # older
    assert rnd_answers_many(numbers=[A])[A][0].result == "no"
    _run(
        write(
            tmp_path / "3.csv",
            [header, f"{A},2024-01-02,no_data,{_recent(5)}", f"{A},2024-01-02,yes,{_recent(1)}"],
        )
    )
    (answer,) = rnd_answers_many(numbers=[A])[A]
    assert answer.result == "yes"
    assert answer.queried_at.astimezone(UTC).date() == (timezone.now() - timedelta(days=1)).date()
