"""US phone numbers: parse any common format, answer E.164, never echo the input in errors."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

US_REGIONS = frozenset({"US"})


class InvalidPhoneNumber(ValueError):
    """Raised without the number in its message, so it is safe to log."""

    DEFAULT = "not a valid, dialable US number"

    def __init__(self, why: str = DEFAULT) -> None:
        super().__init__(why)


def parse_us(raw: str) -> phonenumbers.PhoneNumber:
    """Parse `raw` ("(212) 555-0123", "212.555.0123", "+1 212 555 0123", "12125550123"...)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("empty phone number")
    try:
        number = phonenumbers.parse(raw, "US")
    except NumberParseException:
        raise InvalidPhoneNumber() from None
    why = _refusal(number)
    if why:
        raise InvalidPhoneNumber(why)
    return number


# "+1" NPA NXX and four digits, ASCII only: the form numbers arrive in from CRMs and
# are stored in. Its answers are read per exchange (`exchange_answer`).
_E164_SHAPE = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")


@lru_cache(maxsize=1 << 17)  # the US has fewer than 800 x 800 exchanges
def exchange_answer(exchange: str) -> tuple[str, int]:
    """Why the numbers of an exchange ("+1" NPA-NXX) are refused ("": they are valid US
    numbers), and their type. Both depend on NPA-NXX only: the US patterns of
    phonenumbers' metadata end in four free digits, so one check of the exchange's first
    line stands for all 10,000 (tests/foundation/test_phones.py compares them)."""
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(exchange[2:] + "0000"))
    why = _refusal(number)
    return why, phonenumbers.number_type(number)


def _refusal(number: phonenumbers.PhoneNumber) -> str:
    """Why `parse_us` refuses a parsed number, or ""."""
    if number.country_code != 1 or phonenumbers.region_code_for_number(number) not in US_REGIONS:
        return "not a US number"
    if not phonenumbers.is_valid_number(number):
        return InvalidPhoneNumber.DEFAULT
    return ""


def to_e164(raw: str) -> str:
    if isinstance(raw, str) and _E164_SHAPE.fullmatch(raw):
        why = exchange_answer(raw[:8])[0]
        if why:
            raise InvalidPhoneNumber(why)
        return raw
    return phonenumbers.format_number(parse_us(raw), phonenumbers.PhoneNumberFormat.E164)


def try_e164(raw: str) -> str | None:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber:
        return None


def ten_digits(e164: str) -> int:
    """The 10-digit national number of a +1 E.164 string, as an integer (registry key)."""
    return int(e164[-10:])


def line_type(e164: str) -> str:
    """`mobile`, `landline` or `unknown`, from the numbering plan (US plans are often ambiguous)."""
    kind: int = (
        exchange_answer(e164[:8])[1]
        if _E164_SHAPE.fullmatch(e164)
        else phonenumbers.number_type(phonenumbers.parse(e164))
    )
    if kind == PhoneNumberType.MOBILE:
        return "mobile"
    if kind == PhoneNumberType.FIXED_LINE:
        return "landline"
    return "unknown"


def mask(e164: str) -> str:
    """A form safe for a screen shared with other staff: last two digits only."""
    return f"***-***-**{e164[-2:]}" if e164 else ""


_E164_US = re.compile(r"\+1\d{10}")


def stored_e164(number: str | None) -> str | None:
    """A stored number as E.164: as is when it is one (they are stored normalised),
    re-parsed otherwise; None when it is no US number."""
    if number and _E164_US.fullmatch(number):
        return number
    return try_e164(number) if number else None


def exchange_digits(number: str | None) -> str:
    """The NPA-NXX of a stored number (six digits), "" when it is no +1 ten-digit number.
    It names an exchange of 10,000 lines, not a person: it may be kept in the clear."""
    e164 = stored_e164(number)
    return e164[2:8] if e164 is not None else ""
