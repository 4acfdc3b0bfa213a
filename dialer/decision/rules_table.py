"""The calling-rules table: `calling_rules.toml`, loaded and validated strictly at import.

A bad entry stops start-up with an error that names the entry and the field,
so a wrong edit to the law's table can never be half-applied.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

import us

from dialer.decision.facts import LINE_TYPES, PURPOSES
from dialer.decision.numbering import STATE_CODES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CONFIDENCES = frozenset({"P", "S", "U"})
ANY_STATE = "*"

_SPAN = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_COMMON = {"id", "kind", "citation", "confidence", "unconfirmed", "label"}
_FIELDS = {
    "hours": _COMMON | {"state", "purposes", "hours", "days", "no_holidays"},
    "cap": _COMMON | {"state", "purposes", "line_types", "limit", "window_hours"},
    "state_registry": _COMMON | {"states"},
    "condition": _COMMON | {"purposes", "line_types", "requires"},
}
_REQUIRED = {
    "hours": {"id", "kind", "citation", "confidence", "state", "purposes", "hours"},
    "cap": {"id", "kind", "citation", "confidence", "state", "purposes", "limit", "window_hours"},
    "state_registry": {"id", "kind", "citation", "confidence", "states"},
    "condition": {"id", "kind", "citation", "confidence", "purposes", "requires"},
}
_CONSTANTS = {
    "registry_max_age_days",
    "callback_validity_days",
    "next_allowed_horizon_days",
    "rnd_min_aging_days",
    "rnd_max_age_days",
    "rnd_callback_exempt_days",
}
# What a `condition` entry may require; dialer.decision.checks evaluates each.
CONDITIONS = frozenset(
    {"number_provided_by_patient", "script_not_promotional", "opt_out_honoured_at_once"}
)

Span = tuple[int, int]  # seconds since local midnight: [start, end), end <= 86400


class RulesTableError(ValueError):
    """The rules table is malformed; the message names the entry and the field."""


@dataclass(frozen=True, slots=True, eq=False)
class HoursRule:
    """Allowed local hours per weekday; `None` for a day means no calls that day."""

    id: str
    state: str  # a state code, or "*" for every call
    purposes: frozenset[str]
    week: tuple[Span | None, ...]  # 7 entries, Monday first
    no_holidays: bool
    citation: str
    confidence: str
    unconfirmed: bool
    label: str  # who speaks, in details: "Florida", "federal rule"


@dataclass(frozen=True, slots=True, eq=False)
class CapRule:
    id: str
    state: str
    purposes: frozenset[str]
    line_types: frozenset[str]
    limit: int
    window: timedelta
    citation: str
    confidence: str
    unconfirmed: bool
    label: str


@dataclass(frozen=True, slots=True, eq=False)
class ConditionRule:
    """A condition a call for these purposes must meet (an exemption's terms)."""

    id: str
    purposes: frozenset[str]
    line_types: frozenset[str]
    requires: str  # one of CONDITIONS
    citation: str
    confidence: str
    unconfirmed: bool
    label: str

    def applies(self, purpose: str, line_type: str) -> bool:
        return purpose in self.purposes and line_type in self.line_types


@dataclass(frozen=True, slots=True, eq=False)
class RulesTable:
    version: str
    registry_max_age_days: int
    callback_validity: timedelta
    horizon_days: int
    hours: tuple[HoursRule, ...]
    caps: tuple[CapRule, ...]
    state_registries: frozenset[str]
    rnd_min_aging: timedelta  # a consent this old needs an RND answer
    rnd_max_age: timedelta  # an RND answer older than this is stale
    rnd_callback_exempt: timedelta  # a callback asked for this recently needs none
    conditions: tuple[ConditionRule, ...] = ()

    def conditions_for(self, purpose: str, line_type: str) -> tuple[ConditionRule, ...]:
        return tuple(c for c in self.conditions if c.applies(purpose, line_type))


def parse_span(text: str) -> Span:
    """ "09:00-20:00" -> (32400, 72000); the end may be 24:00; start must be before end."""
    match = _SPAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{text!r} has an impossible time")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if start >= end:
        raise ValueError(f"{text!r} does not start before it ends")
    return start, end


def load(text: str | None = None) -> RulesTable:
    """Parse and validate the table (the bundled file unless `text` is given)."""
    if text is None:
        text = resources.files("dialer.decision").joinpath("calling_rules.toml").read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesTableError(f"calling_rules.toml is not valid TOML: {exc}") from None
    _only(raw, {"version", "constants", "rule"}, "table")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RulesTableError("table: field 'version' must be a non-empty string")
    constants = _constants(raw.get("constants"))
    entries = raw.get("rule")
    if not isinstance(entries, list) or not entries:
        raise RulesTableError("table: field 'rule' must be a non-empty list of [[rule]] entries")
    hours: list[HoursRule] = []
    caps: list[CapRule] = []
    registries: set[str] = set()
    conditions: list[ConditionRule] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        name = f"rule[{index}]"
        if not isinstance(entry, dict):
            raise RulesTableError(f"{name}: must be a table")
        ident = entry.get("id")
        if not isinstance(ident, str) or not ident:
            raise RulesTableError(f"{name}: field 'id' must be a non-empty string")
        name = f"rule[{index}] ({ident})"
        if ident in seen:
            raise RulesTableError(f"{name}: field 'id' repeats an earlier entry")
        seen.add(ident)
        kind = entry.get("kind")
        if kind not in _FIELDS:
            raise RulesTableError(f"{name}: field 'kind' must be one of {sorted(_FIELDS)}")
        _only(entry, _FIELDS[kind], name)
        missing = sorted(_REQUIRED[kind] - entry.keys())
        if missing:
            raise RulesTableError(f"{name}: field {missing[0]!r} is required")
        citation = _string(entry, "citation", name)
        confidence = _string(entry, "confidence", name)
        if confidence not in CONFIDENCES:
            raise RulesTableError(f"{name}: field 'confidence' must be P, S or U")
        unconfirmed = _bool(entry, "unconfirmed", name)
        if confidence == "U" and not unconfirmed:
            raise RulesTableError(f"{name}: field 'unconfirmed' must be true for a [U] entry")
        if kind == "hours":
            hours.append(
                HoursRule(
                    id=ident,
                    state=_state(entry, name),
                    purposes=_purposes(entry, name),
                    week=_week(entry, name),
                    no_holidays=_bool(entry, "no_holidays", name),
                    citation=citation,
                    confidence=confidence,
                    unconfirmed=unconfirmed,
                    label=_label(entry, name),
                )
            )
        elif kind == "cap":
            caps.append(
                CapRule(
                    id=ident,
                    state=_state(entry, name),
                    purposes=_purposes(entry, name),
                    line_types=_line_types(entry, name),
                    limit=_positive(entry, "limit", name),
                    window=timedelta(hours=_positive(entry, "window_hours", name)),
                    citation=citation,
                    confidence=confidence,
                    unconfirmed=unconfirmed,
                    label=_label(entry, name),
                )
            )
        elif kind == "condition":
            requires = _string(entry, "requires", name)
            if requires not in CONDITIONS:
                raise RulesTableError(
                    f"{name}: field 'requires' must be one of {sorted(CONDITIONS)}"
                )
            conditions.append(
                ConditionRule(
                    id=ident,
                    purposes=_purposes(entry, name),
                    line_types=_line_types(entry, name),
                    requires=requires,
                    citation=citation,
                    confidence=confidence,
                    unconfirmed=unconfirmed,
                    label=_string(entry, "label", name) if "label" in entry else ident,
                )
            )
        else:
            registries |= _states(entry, name)
    if not any(r.state == ANY_STATE for r in hours):
        raise RulesTableError("table: no 'hours' entry with state = \"*\" (the federal window)")
    return RulesTable(
        version=version,
        registry_max_age_days=constants["registry_max_age_days"],
        callback_validity=timedelta(days=constants["callback_validity_days"]),
        horizon_days=constants["next_allowed_horizon_days"],
        hours=tuple(hours),
        caps=tuple(caps),
        state_registries=frozenset(registries),
        rnd_min_aging=timedelta(days=constants["rnd_min_aging_days"]),
        rnd_max_age=timedelta(days=constants["rnd_max_age_days"]),
        rnd_callback_exempt=timedelta(days=constants["rnd_callback_exempt_days"]),
        conditions=tuple(conditions),
    )


def _only(raw: Mapping[str, Any], allowed: set[str], name: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RulesTableError(f"{name}: field {unknown[0]!r} is not known")


def _constants(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise RulesTableError("constants: must be a table")
    _only(raw, _CONSTANTS, "constants")
    out: dict[str, int] = {}
    for key in sorted(_CONSTANTS):
        if key not in raw:
            raise RulesTableError(f"constants: field {key!r} is required")
        out[key] = _positive(raw, key, "constants")
    return out


def _string(entry: Mapping[str, Any], key: str, name: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RulesTableError(f"{name}: field {key!r} must be a non-empty string")
    return value


def _label(entry: Mapping[str, Any], name: str) -> str:
    """The entry's `label`, else the name of its state, else "federal rule"."""
    if "label" in entry:
        return _string(entry, "label", name)
    state = entry.get("state")
    if state == ANY_STATE:
        return "federal rule"
    found = us.states.lookup(str(state))
    return str(found.name) if found is not None else str(state)


def _bool(entry: Mapping[str, Any], key: str, name: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise RulesTableError(f"{name}: field {key!r} must be true or false")
    return value


def _positive(entry: Mapping[str, Any], key: str, name: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RulesTableError(f"{name}: field {key!r} must be a positive integer")
    return value


def _state(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get("state")
    if value != ANY_STATE and value not in STATE_CODES:
        raise RulesTableError(f"{name}: field 'state' must be \"*\" or a state code")
    return str(value)


def _states(entry: Mapping[str, Any], name: str) -> frozenset[str]:
    value = entry.get("states")
    if not isinstance(value, list) or not value or any(s not in STATE_CODES for s in value):
        raise RulesTableError(f"{name}: field 'states' must be a non-empty list of state codes")
    return frozenset(value)


def _purposes(entry: Mapping[str, Any], name: str) -> frozenset[str]:
    value = entry.get("purposes")
    if not isinstance(value, list) or not value or any(p not in PURPOSES for p in value):
        raise RulesTableError(
            f"{name}: field 'purposes' must be a non-empty list of {sorted(PURPOSES)}"
        )
    return frozenset(value)


def _line_types(entry: Mapping[str, Any], name: str) -> frozenset[str]:
    value = entry.get("line_types", sorted(LINE_TYPES))
    if not isinstance(value, list) or not value or any(t not in LINE_TYPES for t in value):
        raise RulesTableError(
            f"{name}: field 'line_types' must be a non-empty list of {sorted(LINE_TYPES)}"
        )
    return frozenset(value)


def _week(entry: Mapping[str, Any], name: str) -> tuple[Span | None, ...]:
    try:
        default = parse_span(_string(entry, "hours", name))
    except ValueError as exc:
        raise RulesTableError(f"{name}: field 'hours': {exc}") from None
    week: list[Span | None] = [default] * 7
    days = entry.get("days", {})
    if not isinstance(days, dict):
        raise RulesTableError(f"{name}: field 'days' must be a table of weekday = span")
    for day, value in days.items():
        if day not in WEEKDAYS:
            raise RulesTableError(f"{name}: field 'days.{day}' is not a weekday (mon..sun)")
        if value == "closed":
            week[WEEKDAYS.index(day)] = None
            continue
        if not isinstance(value, str):
            raise RulesTableError(f"{name}: field 'days.{day}' must be HH:MM-HH:MM or \"closed\"")
        try:
            week[WEEKDAYS.index(day)] = parse_span(value)
        except ValueError as exc:
            raise RulesTableError(f"{name}: field 'days.{day}': {exc}") from None
    return tuple(week)


RULES: RulesTable = load()
