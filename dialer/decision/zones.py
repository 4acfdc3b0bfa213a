"""Where the called party may be: candidate IANA zones and states.

Sources, all bundled data (no hand-made tables):
1. the number: phonenumbers' time zones, exchange-level where it knows;
2. the ZIP on file: zipcodes (zone and state);
3. the contact's state: `us` (a state spanning two zones gives both);
4. the state an in-state area code presumes (FL 501.059, OK, CT P.A. 23-98):
   every zone of that state.
When none of them locates the person (a toll-free number and no address), the
answer is every zone of the 50 states and DC, and every state.
Answers are cached per exchange, ZIP, state and combination of the three.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytz
import us
import zipcodes

from dialer.decision.numbering import STATE_CODES, exchange_of

_CACHE_LIMIT = 200_000
_ZIP5 = re.compile(r"(\d{5})(?:-?\d{4})?")
_zip_rows: Callable[[], list[dict[str, Any]]] = zipcodes.list_all  # untyped upstream


@dataclass(frozen=True, slots=True)
class Location:
    zones: tuple[str, ...]  # sorted; never empty
    states: tuple[str, ...]  # sorted; every state when nothing names one
    located: bool  # False: nothing located the person, every zone was taken


@cache
def all_us_zones() -> tuple[str, ...]:
    """Every zone of the 50 states and DC, as `us` lists them."""
    found: set[str] = set()
    for state in [*us.states.STATES, us.states.DC]:
        found.update(state.time_zones)
    return tuple(sorted(found))


@cache
def state_zones(state: str) -> frozenset[str]:
    """The zones of a state or territory code ("TX" -> Chicago and Denver)."""
    found = us.states.lookup(state) if len(state) == 2 and state.isalpha() else None
    if found is None or not found.time_zones:
        return frozenset()
    return frozenset(z for z in found.time_zones if z in pytz.all_timezones_set)


@cache
def normalize_state(raw: str) -> str | None:
    """A contact's state as a two-letter code ("fl", "Florida" -> "FL"); None if unknown."""
    text = raw.strip()
    if not text:
        return None
    found = us.states.lookup(text.upper() if len(text) == 2 else text)
    return str(found.abbr) if found is not None else None


@cache
def _zip_index() -> dict[str, tuple[str | None, str | None]]:
    """ZIP -> (zone, state), built once from zipcodes' bundled list (a lookup each is slow)."""
    valid = pytz.all_timezones_set
    index: dict[str, tuple[str | None, str | None]] = {}
    for row in _zip_rows():
        zone = row.get("timezone") or None
        state = row.get("state") or None
        index[row["zip_code"]] = (
            zone if zone in valid else None,
            state if state in STATE_CODES or state_zones(state or "") else None,
        )
    return index


def zip_location(postal_code: str) -> tuple[str | None, str | None]:
    """(zone, state) of a ZIP or ZIP+4; (None, None) when unknown."""
    match = _ZIP5.fullmatch(postal_code.strip())
    if match is None:
        return None, None
    return _zip_index().get(match.group(1), (None, None))


_locations: dict[tuple[str | None, str | None, str | None], Location] = {}


def candidate_location(number: str | None, state: str | None, postal_code: str | None) -> Location:
    """Every zone and state the person may be in (see the module docstring); `number` is
    an exchange ("+1" NPA-NXX) or a whole E.164 number."""
    # Only the exchange matters for a valid number; an invalid one adds nothing.
    exchange_key = number[:8] if number is not None and exchange_of(number).valid else None
    key = (exchange_key, state, postal_code)
    hit = _locations.get(key)
    if hit is None:
        hit = _locate(exchange_key, state, postal_code)
        if len(_locations) >= _CACHE_LIMIT:
            _locations.clear()
        _locations[key] = hit
    return hit


def _locate(exchange_key: str | None, state: str | None, postal_code: str | None) -> Location:
    zones: set[str] = set()
    states: set[str] = set()
    if exchange_key is not None:
        exchange = exchange_of(exchange_key)
        zones |= exchange.zones
        for presumed in exchange.states:
            states.add(presumed)
            zones |= state_zones(presumed)
    if state is not None:
        code = normalize_state(state)
        if code is not None:
            states.add(code)
            zones |= state_zones(code)
    if postal_code is not None:
        zip_zone, zip_state = zip_location(postal_code)
        if zip_zone is not None:
            zones.add(zip_zone)
        if zip_state is not None:
            states.add(zip_state)
            zones |= state_zones(zip_state) if zip_zone is None else set()
    located = bool(zones)
    if not located:
        zones = set(all_us_zones())
    if not states:
        states = set(STATE_CODES)
    return Location(tuple(sorted(zones)), tuple(sorted(states)), located)


def clear_caches() -> None:
    _locations.clear()
