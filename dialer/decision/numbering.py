"""What the North American numbering plan says about a US number, per exchange.

Everything here depends only on the first six national digits (NPA-NXX): the
US validity patterns of phonenumbers' metadata end in `\\d{4}` or longer free
tails, its time-zone data is keyed by at most "1" + NPA + NXX, and so is its
geocoder data. One lookup per exchange is therefore exact, and bulk decisions
over a few hundred area codes cost a few hundred phonenumbers calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import us
from phonenumbers import PhoneNumber, PhoneNumberType
from phonenumbers import timezone as pn_timezone

from common.phones import exchange_answer

UNKNOWN_ZONE = pn_timezone.UNKNOWN_TIMEZONE

_E164_US = re.compile(r"\+1[2-9]\d{2}[2-9]\d{6}")
_EXCHANGE_US = re.compile(r"\+1[2-9]\d{2}[2-9]\d{2}")
_STATE_SUFFIX = re.compile(r", ([A-Z]{2})$")

# The 50 states and DC: the places the calling rules speak about.
STATE_CODES: frozenset[str] = frozenset(s.abbr for s in us.states.STATES) | {"DC"}


@dataclass(frozen=True, slots=True)
class Exchange:
    """The numbering plan's answer for one NPA-NXX."""

    valid: bool
    why_invalid: str  # "" when valid; never contains the number
    zones: frozenset[str]  # empty: the plan does not locate this number
    states: frozenset[str]  # the state(s) the area code (and exchange) presume


_INVALID_FORMAT = Exchange(False, "not a +1 ten-digit number", frozenset(), frozenset())
_exchanges: dict[str, Exchange] = {}


def exchange_of(number: str) -> Exchange:
    """The numbering plan's answer for an exchange ("+1" NPA-NXX) or for the exchange of a
    whole E.164 number (cached per NPA-NXX)."""
    if len(number) == 8:
        # Only well-formed exchanges are cached: a hit needs no pattern (twice a call).
        hit = _exchanges.get(number)
        if hit is not None:
            return hit
        if _EXCHANGE_US.fullmatch(number) is None:
            return _INVALID_FORMAT
    elif len(number) != 12 or _E164_US.fullmatch(number) is None:
        return _INVALID_FORMAT
    key = number[:8]
    hit = _exchanges.get(key)
    if hit is None:
        hit = _exchange(key)
        _exchanges[key] = hit
    return hit


def _exchange(key: str) -> Exchange:
    # The last four digits do not change any answer below (see module docstring).
    refused, kind = exchange_answer(key)  # the input rule's answer, per exchange too
    if refused:
        return Exchange(False, "not a valid US number", frozenset(), frozenset())
    if kind == PhoneNumberType.PREMIUM_RATE:
        return Exchange(False, "premium-rate number", frozenset(), frozenset())
    number = PhoneNumber(country_code=1, national_number=int(key[2:] + "0000"))
    zones = frozenset(pn_timezone.time_zones_for_number(number))
    if UNKNOWN_ZONE in zones or zones >= _country_zones():
        zones = frozenset()  # non-geographic (toll-free, personal) or unknown
    npa, nxx = key[2:5], key[5:8]
    states = area_code_states(npa)
    exchange_state = _geo_state(npa + nxx)
    if exchange_state is not None:
        states = states | {exchange_state}
    return Exchange(True, "", zones, states)


@cache
def _country_zones() -> frozenset[str]:
    """The zones phonenumbers answers for +1 as a whole (what it says when it does not know)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    return frozenset(TIMEZONE_DATA["1"])


@cache
def area_code_states(npa: str) -> frozenset[str]:
    """The state(s) an area code presumes, from phonenumbers' geocoder data.

    The geocoder names the state of most area codes at the area-code level
    ("Florida", "Chicago, IL"); where it only names exchanges, every state its
    exchanges name counts. Non-geographic codes (toll-free, 5XX) have none.
    """
    data = _geodata()
    desc = data.get("1" + npa)
    if desc is not None:
        state = state_of_description(desc["en"])
        return frozenset({state}) if state else frozenset()
    return _exchange_level_states().get(npa, frozenset())


def _geo_state(npa_nxx: str) -> str | None:
    """The state the geocoder names for an exchange, by longest prefix below the area code."""
    data = _geodata()
    for length in range(6, 3, -1):
        desc = data.get("1" + npa_nxx[:length])
        if desc is not None:
            return state_of_description(desc["en"])
    return None


@cache
def _exchange_level_states() -> dict[str, frozenset[str]]:
    data = _geodata()
    found: dict[str, set[str]] = {}
    for prefix, desc in data.items():
        if len(prefix) > 4 and prefix[0] == "1":
            state = state_of_description(desc["en"])
            if state is not None:
                found.setdefault(prefix[1:4], set()).add(state)
    return {npa: frozenset(states) for npa, states in found.items()}


@cache
def _geodata() -> dict[str, dict[str, str]]:
    from phonenumbers.geodata import GEOCODE_DATA

    data: dict[str, dict[str, str]] = GEOCODE_DATA
    return data


@cache
def state_of_description(desc: str) -> str | None:
    """ "Chicago, IL" -> "IL"; "Florida" -> "FL"; "Washington State" -> "WA"; else None."""
    match = _STATE_SUFFIX.search(desc)
    if match is not None:
        return match.group(1) if match.group(1) in STATE_CODES else None
    name = desc.removesuffix(" State")
    if name in ("Washington D.C.", "Washington DC"):
        name = "District of Columbia"
    found = us.states.lookup(name)
    if found is not None and found.abbr in STATE_CODES:
        return str(found.abbr)
    return None


def clear_caches() -> None:
    _exchanges.clear()
