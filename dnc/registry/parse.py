"""Reading registry files defensively: plain or zipped text, one number a line.

Accepted lines: ten digits ("2125550123"), "NPA,NXXXXXX" ("212,5550123"), and
the usual writings of a number ("212-555-0123", " 212 555 0123 ", a leading 1).
Change lists also carry an add or delete marker on each line ("2125550123,A",
"D,2125550123", "delete 212-555-0123") unless the whole file is one or the other.
Blank lines and lines without a digit (headers) are skipped and counted;
anything else is a bad line, counted and reported by line number, never by
content (a number must not reach a log).

The common shapes are parsed for a whole block at once with numpy; only the
other lines go through Python one at a time.
"""

from __future__ import annotations

import enum
import hashlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from dnc.keys import Keys

BLOCK_BYTES = 8 << 20
MAX_LISTED_BAD_LINES = 20
ADD, DELETE = 1, -1
ADD_WORDS = frozenset({"A", "ADD", "ADDED", "ADDITION", "I", "INSERT", "N", "NEW"})
DELETE_WORDS = frozenset({"D", "DEL", "DELETE", "DELETED", "DELETION", "R", "REMOVE", "REMOVED"})
_MARKER_BYTES = {ord("A"): ADD, ord("a"): ADD, ord("D"): DELETE, ord("d"): DELETE}
_SPLIT = re.compile(r"[\s,;|]+")
_PUNCTUATION = re.compile(r"[().\-+/\"']")
_BOM = b"\xef\xbb\xbf"

Ops = npt.NDArray[np.int8]


class LineMode(enum.Enum):
    FULL = "full"  # a number per line, no marker
    MARKED = "marked"  # a number and an add/delete marker per line
    ADD = "add"  # a change file of additions only
    DELETE = "delete"  # a change file of deletions only

    @property
    def fixed_op(self) -> int:
        return {LineMode.ADD: ADD, LineMode.DELETE: DELETE}.get(self, 0)


@dataclass
class FileStats:
    """What one input file held; stored with the load (no numbers in it)."""

    name: str
    sha256: str = ""
    bytes: int = 0
    lines: int = 0
    numbers: int = 0
    blank: int = 0
    headers: int = 0
    bad: int = 0
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)

    def note_bad(self, member: str, line: int, why: str) -> None:
        self.bad += 1
        if len(self.bad_lines) < MAX_LISTED_BAD_LINES:
            self.bad_lines.append((member, line, why))

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "lines": self.lines,
            "numbers": self.numbers,
            "blank": self.blank,
            "headers": self.headers,
            "bad": self.bad,
        }

    def bad_report(self) -> str:
        """`name: N bad lines (line 3: why; ...; and K more)`, by line number only."""
        listed = "; ".join(
            f"{member + ' ' if member else ''}line {line}: {why}"
            for member, line, why in self.bad_lines
        )
        more = self.bad - len(self.bad_lines)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{self.name}: {self.bad} bad line{'s' if self.bad != 1 else ''} ({listed}{tail})"


@dataclass
class Block:
    """The numbers of one block of lines, with their ops and line numbers (change lists)."""

    keys: Keys
    ops: Ops
    lines: npt.NDArray[np.int64]
    bytes_read: int


@dataclass(frozen=True)
class _Shape:
    length: int
    digits: tuple[int, ...]
    fixed: tuple[tuple[int, int], ...] = ()
    marker: int | None = None


_TEN = tuple(range(10))
_FULL_SHAPES = (
    _Shape(10, _TEN),
    _Shape(11, (0, 1, 2, 4, 5, 6, 7, 8, 9, 10), ((3, ord(",")),)),
)
_MARKED_SHAPES = (
    _Shape(12, _TEN, ((10, ord(",")),), marker=11),
    _Shape(12, tuple(range(2, 12)), ((1, ord(",")),), marker=0),
)


def file_blocks(path: Path, stats: FileStats) -> Iterator[tuple[str, bytes]]:
    """(member name, block) pairs, each block ending at a line end; fills in size and sha256.

    A zip archive yields each of its members in name order; its checksum is the archive's.
    """
    stats.bytes = path.stat().st_size
    if zipfile.is_zipfile(path):
        stats.sha256 = _sha256(path)
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (info for info in archive.infolist() if not info.is_dir()),
                key=lambda info: info.filename,
            )
            for info in members:
                with archive.open(info) as stream:
                    for block in _blocks(stream, None):
                        yield info.filename, block
        return
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        yield from (("", block) for block in _blocks(stream, digest))
    stats.sha256 = digest.hexdigest()


def uncompressed_size(path: Path) -> int:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist() if not info.is_dir())
    return path.stat().st_size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(BLOCK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _blocks(stream: IO[bytes], digest: Any) -> Iterator[bytes]:
    carry = b""
    first = True
    while True:
        chunk = stream.read(BLOCK_BYTES)
        if digest is not None and chunk:
            digest.update(chunk)
        if first and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        first = False
        if not chunk:
            if carry:
                yield carry + b"\n"
            return
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]


def _digits_value(digits: npt.NDArray[np.uint8]) -> Keys:
    """The numbers of rows of ten digits (0-9): pairs of digits in bytes, then two halves
    in narrow integers (a fraction of the work of a product with powers of ten)."""
    pairs = digits[:, 0::2] * np.uint8(10) + digits[:, 1::2]  # 0-99
    high = pairs[:, 0].astype(np.int64) * 100 + pairs[:, 1]
    low = (pairs[:, 2].astype(np.int32) * 100 + pairs[:, 3]) * 100 + pairs[:, 4]
    return high * 1_000_000 + low


class BlockParser:
    """Turns blocks of lines into keys, counting what it skips into `stats`."""

    def __init__(self, mode: LineMode, stats: FileStats) -> None:
        self.mode = mode
        self.stats = stats
        self.shapes = _MARKED_SHAPES if mode is LineMode.MARKED else _FULL_SHAPES
        self.line_offset: dict[str, int] = {}

    def parse(self, member: str, block: bytes) -> Block:
        """Parse one block (ending with a newline) of `member` ("" for a plain file)."""
        first_line = self.line_offset.get(member, 0)
        data = np.frombuffer(block, np.uint8)
        if self.mode is not LineMode.MARKED:
            uniform = self._uniform(data)
            if uniform is not None:
                self.line_offset[member] = first_line + len(uniform)
                self.stats.lines += len(uniform)
                self.stats.numbers += len(uniform)
                return Block(
                    keys=uniform,
                    ops=np.full(len(uniform), self.mode.fixed_op, np.int8),
                    lines=np.arange(first_line, first_line + len(uniform), dtype=np.int64),
                    bytes_read=len(block),
                )
        return self._parse_lines(member, block, data, first_line)

    def _uniform(self, data: npt.NDArray[np.uint8]) -> Keys | None:
        """Keys of a block made only of 10-digit lines ("\\n" or "\\r\\n"), else None.

        The usual registry file, read as a table with no search for line ends.
        """
        for width in (11, 12):
            if len(data) % width or data[width - 1] != 10:
                continue
            rows = data.reshape(-1, width)
            if width == 12 and not (rows[:, 10] == 13).all():
                continue
            if not (rows[:, width - 1] == 10).all():
                continue
            digits = rows[:, :10] - np.uint8(48)  # anything but a digit wraps around to > 9
            if digits.max() <= 9 and digits[:, 0].min() >= 2 and digits[:, 3].min() >= 2:
                return _digits_value(digits)
        return None

    def _parse_lines(
        self, member: str, block: bytes, data: npt.NDArray[np.uint8], first_line: int
    ) -> Block:
        ends = np.flatnonzero(data == 10)
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1] + 1
        has_cr = (ends > starts) & (data[ends - 1] == 13)
        lengths = ends - has_cr - starts
        count = len(ends)
        self.line_offset[member] = first_line + count
        self.stats.lines += count

        done = lengths == 0
        self.stats.blank += int(done.sum())
        found_at: list[npt.NDArray[np.int64]] = []
        found_keys: list[Keys] = []
        found_ops: list[Ops] = []
        for shape in self.shapes:
            candidates = np.flatnonzero(~done & (lengths == shape.length))
            if candidates.size == 0:
                continue
            base = starts[candidates]
            digits = data[base[:, None] + np.asarray(shape.digits)] - np.uint8(48)
            good = (digits <= 9).all(axis=1) & (digits[:, 0] >= 2) & (digits[:, 3] >= 2)
            for position, byte in shape.fixed:
                good &= data[base + position] == byte
            if shape.marker is not None:
                marks = data[base + shape.marker]
                ops = np.zeros(len(marks), np.int8)
                for byte, op in _MARKER_BYTES.items():
                    ops[marks == byte] = op
                good &= ops != 0
                found_ops.append(ops[good])
            else:
                found_ops.append(np.full(int(good.sum()), self.mode.fixed_op, np.int8))
            found_at.append(candidates[good])
            found_keys.append(_digits_value(digits[good]))
            done[candidates[good]] = True

        rest = np.flatnonzero(~done)
        if rest.size:
            slow_at, slow_keys, slow_ops = [], [], []
            for index in rest.tolist():
                text = block[starts[index] : starts[index] + lengths[index]].decode("latin-1")
                key, op, why = self._parse_line(text)
                if why == "blank":
                    self.stats.blank += 1
                elif why == "header":
                    self.stats.headers += 1
                elif why:
                    self.stats.note_bad(member, first_line + index + 1, why)
                else:
                    slow_at.append(index)
                    slow_keys.append(key)
                    slow_ops.append(op)
            found_at.append(np.asarray(slow_at, np.int64))
            found_keys.append(np.asarray(slow_keys, np.int64))
            found_ops.append(np.asarray(slow_ops, np.int8))

        keys = np.concatenate(found_keys) if found_keys else np.zeros(0, np.int64)
        self.stats.numbers += len(keys)
        return Block(
            keys=keys,
            ops=np.concatenate(found_ops) if found_ops else np.zeros(0, np.int8),
            lines=(np.concatenate(found_at) + first_line) if found_at else np.zeros(0, np.int64),
            bytes_read=len(block),
        )

    def _parse_line(self, text: str) -> tuple[int, int, str]:
        """(key, op, "") for a number, or (0, 0, why): "blank", "header" or the fault."""
        text = text.strip().lstrip("\ufeff")
        if not text:
            return 0, 0, "blank"
        if not any(char.isdigit() for char in text):
            return 0, 0, "header"
        op = self.mode.fixed_op
        parts = []
        for token in _SPLIT.split(text):
            word = token.strip("\"'").upper()
            if word.isalpha():
                if self.mode is LineMode.MARKED and op == 0 and word in ADD_WORDS:
                    op = ADD
                elif self.mode is LineMode.MARKED and op == 0 and word in DELETE_WORDS:
                    op = DELETE
                else:
                    return 0, 0, "unexpected text"
            else:
                parts.append(token)
        digits = _PUNCTUATION.sub("", "".join(parts))
        if not digits.isdigit():
            return 0, 0, "not a phone number"
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) != 10:
            return 0, 0, "not 10 digits"
        if digits[0] < "2" or digits[3] < "2":
            return 0, 0, "not a valid US number"
        if self.mode is LineMode.MARKED and op == 0:
            return 0, 0, "no add or delete marker"
        return int(digits), op, ""
