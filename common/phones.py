"""US phone numbers: parse any common format, answer E.164, never echo the input in errors."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

US_REGIONS = frozenset({"US"})


class InvalidPhoneNumber(ValueError):
    """Raised without the number in its message, so it is safe to log."""

    def __init__(self, why: str = "not a valid, dialable US number") -> None:
        super().__init__(why)


def parse_us(raw: str) -> phonenumbers.PhoneNumber:
    """Parse `raw` ("(212) 555-0123", "212.555.0123", "+1 212 555 0123", "12125550123"...)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("empty phone number")
    try:
        number = phonenumbers.parse(raw, "US")
    except NumberParseException:
        raise InvalidPhoneNumber() from None
    if number.country_code != 1 or phonenumbers.region_code_for_number(number) not in US_REGIONS:
        raise InvalidPhoneNumber("not a US number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber()
    return number


def to_e164(raw: str) -> str:
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
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
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
