"""The alumni list's file: its columns, and each row checked (step 1 of
dialer.acts.alumni_import), writing nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from campaigns.models import (
    Contact,
    LineType,
    PatientStatus,
)
from common.phones import InvalidPhoneNumber, to_e164

REQUIRED_COLUMNS = ("external_id", "phone")
OPTIONAL_COLUMNS = (
    "first_name",
    "last_name",
    "line_type",
    "provided_by_patient",
    "state",
    "postal_code",
    "patient_status",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_ROWS = 100_000
MAX_ERRORS = 200  # a report names this many problems; the rest are counted
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0", ""})


@dataclass(frozen=True)
class AlumniRow:
    row: int  # line in the file; the header is line 1
    external_id: str
    phone: str  # E.164
    first_name: str = ""
    last_name: str = ""
    line_type: str = ""
    provided_by_patient: bool = False
    state: str = ""
    postal_code: str = ""
    patient_status: str = PatientStatus.FORMER


@dataclass(frozen=True)
class RowError:
    row: int  # 0: the file as a whole
    field: str
    message: str  # never the value itself


class _Errors:
    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.not_shown = 0

    def add(self, row: int, name: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(RowError(row, name, message))
        else:
            self.not_shown += 1


def alumni_parse(*, data: bytes | str) -> tuple[list[AlumniRow], list[RowError], int]:
    """Read and check a whole file; writes nothing. Returns (rows, errors, errors not shown)."""
    errors = _Errors()
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [RowError(0, "file", "not UTF-8 text; save the file as CSV UTF-8")], 0
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error:
        return [], [RowError(1, "file", "not a readable CSV header")], 0
    if not header or not any(h.strip() for h in header):
        return [], [RowError(1, "file", "the file is empty; the first line must be the header")], 0
    names = [h.strip().lower() for h in header]
    for index, name in enumerate(names):
        if name not in COLUMNS:
            errors.add(
                1, name or f"column {index + 1}", f"unknown column; use: {', '.join(COLUMNS)}"
            )
        elif names.index(name) != index:
            errors.add(1, name, "this column appears twice")
    for name in REQUIRED_COLUMNS:
        if name not in names:
            errors.add(1, name, "required column missing")
    if errors.items:
        return [], errors.items, errors.not_shown

    rows: list[AlumniRow] = []
    first_seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                errors.add(line, "file", f"more than {MAX_ROWS} rows; split the file")
                break
            if len(values) != len(names):
                errors.add(line, "file", f"{len(values)} values for {len(names)} columns")
                continue
            parsed = _parse_row(line, dict(zip(names, values, strict=True)), errors)
            if parsed is None:
                continue
            if parsed.external_id in first_seen:
                errors.add(
                    line,
                    "external_id",
                    f"appears again (first on row {first_seen[parsed.external_id]})",
                )
                continue
            first_seen[parsed.external_id] = line
            rows.append(parsed)
    except csv.Error:
        errors.add(reader.line_num, "file", "not readable as CSV (a stray quote?)")
    if not rows and not errors.items:
        errors.add(2, "file", "the file has a header but no rows")
    return rows, errors.items, errors.not_shown


def _parse_row(line: int, raw: dict[str, str], errors: _Errors) -> AlumniRow | None:
    values = {k: " ".join(v.split()) for k, v in raw.items()}
    before = len(errors.items) + errors.not_shown
    external_id = values.get("external_id", "")
    if not external_id:
        errors.add(line, "external_id", "required")
    phone = ""
    try:
        phone = to_e164(values.get("phone", ""))
    except InvalidPhoneNumber as exc:
        errors.add(line, "phone", str(exc))
    line_type = values.get("line_type", "").lower()
    if line_type not in ("", *LineType.values):
        errors.add(line, "line_type", f"use one of: {', '.join(LineType.values)}")
    provided = values.get("provided_by_patient", "").lower()
    if provided not in _TRUE | _FALSE:
        errors.add(line, "provided_by_patient", "use true or false")
    status = values.get("patient_status", "").lower() or PatientStatus.FORMER
    if status not in PatientStatus.values:
        errors.add(line, "patient_status", f"use one of: {', '.join(PatientStatus.values)}")
    state = values.get("state", "").upper()
    # The same field checks contact_create will run (lengths, state code, ZIP).
    probe = Contact(
        external_id=external_id,
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        state=state,
        postal_code=values.get("postal_code", ""),
        patient_status=status if status in PatientStatus.values else PatientStatus.FORMER,
    )
    try:
        probe.full_clean(exclude=["program"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.add(line, name, " ".join(messages))
    if len(errors.items) + errors.not_shown > before:
        return None
    return AlumniRow(
        row=line,
        external_id=external_id,
        phone=phone,
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        line_type=line_type,
        provided_by_patient=provided in _TRUE,
        state=state,
        postal_code=values.get("postal_code", ""),
        patient_status=status,
    )
