"""Registry keys: a US number as the integer of its ten digits (NPA NXX XXXX).

Registries are keyed by the number itself (they are lists of numbers, loaded
from public files); the internal list is keyed by a keyed hash of the E.164
string, and keeps the number encrypted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from common.phones import InvalidPhoneNumber

AREA_SPAN = 10_000_000  # numbers in one area code (NXX XXXX)
_E164 = re.compile(r"\+1[2-9]\d{2}[2-9]\d{6}")
_NOT_DIGIT = re.compile(r"[\s().\-+/]")
_POW10 = 10 ** np.arange(9, -1, -1, dtype=np.int64)

Keys = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def key_from_e164(number_e164: str) -> int:
    """The key of a +1 E.164 number whose area code and exchange start with 2-9."""
    if not isinstance(number_e164, str) or _E164.fullmatch(number_e164) is None:
        raise InvalidPhoneNumber("not a +1 E.164 US number")
    return int(number_e164[2:])


def e164_from_key(key: int) -> str:
    return f"+1{int(key):010d}"


def area_code_of(key: int) -> int:
    return int(key) // AREA_SPAN


def key_from_text(raw: str) -> int | None:
    """A number written any common US way, or None: "(212) 555-0123", "1-212-555-0123"..."""
    digits = _NOT_DIGIT.sub("", raw)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or not digits.isdigit() or digits[0] < "2" or digits[3] < "2":
        return None
    return int(digits)


def keys_from_numbers(numbers: Sequence[str]) -> tuple[Keys, Mask]:
    """Keys of many numbers at once, and which of them were valid US numbers.

    Vectorised when every string is 12 characters of ASCII (E.164, the usual
    case); otherwise one string at a time, in any common format. Invalid
    strings get key 0 and False.
    """
    count = len(numbers)
    keys = np.zeros(count, np.int64)
    valid = np.zeros(count, np.bool_)
    if count == 0:
        return keys, valid
    try:
        blob = "".join(numbers).encode("ascii")
    except (UnicodeEncodeError, TypeError):
        blob = b""
    if len(blob) == 12 * count:
        rows = np.frombuffer(blob, np.uint8).reshape(count, 12)
        digits = rows[:, 2:] - np.uint8(48)  # non-digits wrap around to > 9
        valid = (
            (rows[:, 0] == 43)  # "+"
            & (rows[:, 1] == 49)  # "1"
            & (digits <= 9).all(axis=1)
            & (digits[:, 0] >= 2)
            & (digits[:, 3] >= 2)
        )
        keys = digits.astype(np.int64) @ _POW10
        keys[~valid] = 0
    for index in np.flatnonzero(~valid).tolist():
        number = numbers[index]
        key = key_from_text(number) if isinstance(number, str) else None
        if key is not None:
            keys[index] = key
            valid[index] = True
    return keys, valid


class KeySet:
    """Exact membership of many keys in a smaller set, at numpy speed.

    An open-addressing hash table of int64 keys (0 marks an empty slot; keys
    are never 0), at most a quarter full, so a lookup is a multiply, a shift
    and a gather per probe, and probes are few and bounded.
    """

    _MIX = np.int64(-7046029254386353131)  # 0x9E3779B97F4A7C15 as a signed 64-bit integer

    def __init__(self, members: Keys) -> None:
        members = np.unique(np.asarray(members, np.int64))
        members = members[members != 0]
        bits = max(10, int(len(members) * 4 - 1).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        table = np.zeros(1 << bits, np.int64)
        home = self._home(members)
        waiting = np.arange(len(members))
        probes = 0
        while waiting.size:
            slots = (home[waiting] + probes) & self._mask
            free = np.flatnonzero(table[slots] == 0)
            # Of several members that want the same free slot, the first takes it.
            _, first = np.unique(slots[free], return_index=True)
            placed = free[first]
            table[slots[placed]] = members[waiting[placed]]
            keep = np.ones(len(waiting), np.bool_)
            keep[placed] = False
            waiting = waiting[keep]
            probes += 1
        self._table = table
        self._probes = probes
        self.size = len(members)

    def _home(self, keys: Keys) -> npt.NDArray[np.int64]:
        with np.errstate(over="ignore"):
            mixed = keys * self._MIX  # wraps around: a multiplicative hash
        return (mixed.view(np.uint64) >> self._shift).view(np.int64)

    def contains(self, keys: Keys) -> Mask:
        """Which keys are members; a probe sequence ends at the first empty slot."""
        keys = np.asarray(keys, np.int64)
        if self.size == 0 or len(keys) == 0:
            return np.zeros(len(keys), np.bool_)
        home = self._home(keys)
        slot = self._table[home]
        found = slot == keys
        pending = np.flatnonzero((slot != 0) & ~found)
        for probe in range(1, self._probes):
            if pending.size == 0:
                break
            slot = self._table[(home[pending] + probe) & self._mask]
            hit = slot == keys[pending]
            found[pending[hit]] = True
            pending = pending[(slot != 0) & ~hit]
        return found
