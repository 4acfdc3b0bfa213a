"""Loading the RND results file a program downloads after a bulk query.

A CSV with a header naming its columns (in any order, others ignored):
`number`, `consent_date` (YYYY-MM-DD, the date asked about), `result`
(`yes`, `no` or `no_data`) and `queried_at` (ISO 8601; without an offset it
is UTC). Plain or zipped (each member its own CSV with its own header).

Reading reuses the registry loader's helpers (`dnc.registry.parse`: blocks of
plain or zipped files, checksums, bad lines reported by line number only, never
by content; `dnc.registry.progress`). The load is one transaction: the rows
are copied into a scratch table, then merged into the answers on file (for one
number and date, the newest answer wins). A file with bad lines changes
nothing unless `skip_bad`.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from common.crypto import keyed_hasher
from dnc.keys import key_from_text
from dnc.models import RndResult
from dnc.registry.parse import FileStats, file_blocks, uncompressed_size
from dnc.registry.progress import Progress

COLUMNS = ("number", "consent_date", "result", "queried_at")
RESULTS = {
    "yes": "yes",
    "no": "no",
    "no_data": "no_data",
    "no data": "no_data",
    "nodata": "no_data",
}
_SCRATCH = "dnc_rnd_load"
_MERGE = f"""
INSERT INTO dnc_rndanswer (number_hash, consent_date, result, queried_at, source, recorded_at)
SELECT DISTINCT ON (number_hash, consent_date)
       number_hash, consent_date, result, queried_at, %(source)s, %(now)s
  FROM {_SCRATCH}
 ORDER BY number_hash, consent_date, queried_at DESC
    ON CONFLICT (number_hash, consent_date) DO UPDATE
   SET result = EXCLUDED.result, queried_at = EXCLUDED.queried_at,
       source = EXCLUDED.source, recorded_at = EXCLUDED.recorded_at
 WHERE dnc_rndanswer.queried_at <= EXCLUDED.queried_at
"""  # noqa: S608 (constants only)


class RndRefused(Exception):
    """The load changed nothing; the message names the file and line numbers, never content."""


@dataclass
class RndLoadResult:
    stats: FileStats
    rows: int
    merged: int
    seconds: float
    results: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{self.results.get(r, 0):,} {r}" for r in RndResult.values)
        skipped = f", {self.stats.bad:,} bad lines skipped" if self.stats.bad else ""
        rate = self.rows / max(self.seconds, 1e-9)
        return (
            f"RND results {self.stats.name}: {self.rows:,} rows ({counts}){skipped};"
            f" {self.merged:,} answers recorded in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )


def rnd_results_load(
    *, path: Path, actor: str, skip_bad: bool = False, progress: Progress | None = None
) -> RndLoadResult:
    """Load one results file, atomically.

    1. Check the file; read it block by block (plain or zipped); each member's
       first line is its header, which must name every column of COLUMNS.
    2. Check each line (a US number, dates, a known result, an answer not from
       the future and not before the date asked about); keep a good line as
       (keyed hash, date, result, instant) and COPY it into a scratch table.
    3. A bad line refuses the whole file, unless `skip_bad`.
    4. Merge into the answers on file, audit, commit.
    """
    if not path.is_file():
        raise ValidationError({"path": f"Not a readable file: {path.name}"})
    if progress is None:
        progress = Progress(_Null(), total=1, label="", tty=False, interval=3600)
    progress.total = max(uncompressed_size(path), 1)
    started = time.monotonic()
    stats = FileStats(name=path.name)
    results = dict.fromkeys(RndResult.values, 0)
    source = f"file:{path.name}"[:100]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE {_SCRATCH} (number_hash text, consent_date date,"
                " result text, queried_at timestamptz) ON COMMIT DROP"
            )
            reader = _Reader(stats, results, latest=timezone.now() + timedelta(days=1))
            with cursor.copy(f"COPY {_SCRATCH} FROM STDIN") as copy:
                for member, block in file_blocks(path, stats):
                    rows = reader.block(member, block)
                    if rows and not (stats.bad and not skip_bad):
                        copy.write(rows)
                    progress.advance(nbytes=len(block), rows=reader.last_rows)
            reader.check_headers()
            if stats.bad and not skip_bad:
                raise RndRefused(
                    f"Refused: {stats.bad:,} bad lines; nothing was loaded"
                    f" (--skip-bad loads the good lines).\n{stats.bad_report()}"
                )
            if not stats.numbers:
                raise RndRefused(f"{stats.name}: no answers in the file; nothing was loaded.")
            progress.phase(f"{stats.numbers:,} rows read; recording")
            cursor.execute(_MERGE, {"source": source, "now": timezone.now()})
            merged = cursor.rowcount
            cursor.execute(f"DROP TABLE {_SCRATCH}")  # at once: inside an outer transaction too
            audit_record(
                actor=actor,
                action="dnc.rnd_results_loaded",
                object_type="dnc_rnd_results",
                data={**stats.record(), "results": results, "merged": merged},
            )
    except RndRefused as refused:
        audit_record(
            actor=actor,
            action="dnc.rnd_results_refused",
            object_type="dnc_rnd_results",
            reason=str(refused),
            data={"name": stats.name, "sha256": stats.sha256, "bad": stats.bad},
        )
        raise
    progress.finish()
    return RndLoadResult(
        stats=stats,
        rows=stats.numbers,
        merged=merged,
        seconds=time.monotonic() - started,
        results=results,
    )


class _Reader:
    """Turns blocks of CSV lines into COPY text, counting what it skips into `stats`."""

    def __init__(self, stats: FileStats, results: dict[str, int], latest: datetime) -> None:
        self.stats = stats
        self.results = results
        self.latest = latest
        self.hash = keyed_hasher()
        self.columns: dict[str, tuple[int, int, int, int] | None] = {}
        self.line_of: dict[str, int] = {}
        self.last_rows = 0
        # Dates and instants repeat across a file: parse each distinct text once.
        self._dates: dict[str, date | None] = {}
        self._instants: dict[str, tuple[datetime, str] | None] = {}

    def check_headers(self) -> None:
        missing = [member or self.stats.name for member, cols in self.columns.items() if not cols]
        if missing:
            raise RndRefused(
                f"{', '.join(missing)}: the header must name the columns {', '.join(COLUMNS)};"
                " nothing was loaded."
            )

    def block(self, member: str, block: bytes) -> str:
        stats = self.stats
        first = self.line_of.get(member, 0)
        text = block.decode("utf-8", errors="replace")
        lines = csv.reader(io.StringIO(text, newline=""))
        out: list[str] = []
        line = first
        cols = self.columns.get(member)
        row = self._row
        for fields in lines:
            line = first + lines.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                stats.blank += 1
            elif member not in self.columns:
                cols = self.columns[member] = _header(fields)
                stats.headers += 1
            elif cols is not None:  # else refused at the end, by check_headers
                copied, why = row(fields, cols)
                if why:
                    stats.note_bad(member, line, why)
                else:
                    out.append(copied)
        stats.lines += line - first
        self.line_of[member] = line
        stats.numbers += len(out)
        self.last_rows = len(out)
        return "".join(out)

    def _row(self, fields: list[str], cols: tuple[int, int, int, int]) -> tuple[str, str]:
        n, d, r, q = cols
        if len(fields) <= max(cols):
            return "", "missing columns"
        raw = fields[n]
        if len(raw) == 10 and raw.isdigit() and raw[0] >= "2" and raw[3] >= "2":
            e164 = "+1" + raw  # the usual writing, without the general parser
        else:
            key = key_from_text(raw.strip())
            if key is None:
                return "", "number: not a valid US number"
            e164 = f"+1{key}"
        asked = self._date(fields[d])
        if asked is None:
            return "", "consent_date: not a YYYY-MM-DD date"
        result = RESULTS.get(fields[r].strip().lower())
        if result is None:
            return "", "result: not yes, no or no_data"
        instant = self._instant(fields[q])
        if instant is None:
            return "", "queried_at: not an ISO 8601 date and time"
        queried, queried_text = instant
        if queried > self.latest:
            return "", "queried_at: in the future"
        if queried.date() < asked:
            return "", "queried_at: before the date asked about"
        self.results[result] += 1
        return f"{self.hash(e164)}\t{asked}\t{result}\t{queried_text}\n", ""

    def _date(self, text: str) -> date | None:
        if text not in self._dates:
            clean = text.strip()
            try:
                self._dates[text] = date.fromisoformat(clean) if len(clean) == 10 else None
            except ValueError:
                self._dates[text] = None
        return self._dates[text]

    def _instant(self, text: str) -> tuple[datetime, str] | None:
        """The instant in UTC and its text for COPY; without an offset it is UTC."""
        if text not in self._instants:
            try:
                value = datetime.fromisoformat(text.strip())
            except ValueError:
                self._instants[text] = None
            else:
                aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
                utc = aware.astimezone(UTC)
                self._instants[text] = (utc, utc.isoformat())
        return self._instants[text]


def _header(fields: list[str]) -> tuple[int, int, int, int] | None:
    names = [f.strip().lstrip("\ufeff").lower() for f in fields]
    if not all(column in names for column in COLUMNS):
        return None
    n, d, r, q = (names.index(column) for column in COLUMNS)
    return n, d, r, q


class _Null:
    def write(self, text: str) -> object:
        return None
