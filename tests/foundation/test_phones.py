"""Numbers in E.164 form are checked once per exchange (NPA-NXX); the answer must be the
one a full parse of the whole number gives, for every number."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.phones import InvalidPhoneNumber, line_type, to_e164


def _full_check(e164: str) -> str:
    """What the whole-number path answers: the E.164 text, or the refusal's words."""
    try:
        return phonenumbers.format_number(_parsed(e164), phonenumbers.PhoneNumberFormat.E164)
    except InvalidPhoneNumber as exc:
        return f"refused: {exc}"


def _parsed(e164: str) -> phonenumbers.PhoneNumber:
    from common.phones import parse_us

    return parse_us(e164)


def _answer(e164: str) -> str:
    try:
        return to_e164(e164)
    except InvalidPhoneNumber as exc:
        return f"refused: {exc}"


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=2_000_000_000, max_value=9_999_999_999))
def test_the_per_exchange_answer_is_the_whole_numbers(national: int) -> None:
    e164 = f"+1{national}"
    assert _answer(e164) == _full_check(e164)
    if not _answer(e164).startswith("refused"):
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        assert line_type(e164) == {
            phonenumbers.PhoneNumberType.MOBILE: "mobile",
            phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
        }.get(kind, "unknown")


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        ("+12125550123", ""),  # New York
        ("+18005550123", ""),  # toll-free: a valid US number
        ("+14165550123", "not a US number"),  # Toronto
        ("+17875550123", "not a US number"),  # Puerto Rico
        ("+12111234567", "not a US number"),  # an N11 code: no region has it
        ("+1212555012", "not a US number"),  # nine digits
    ],
)
def test_e164_input_is_refused_as_before(raw: str, refusal: str) -> None:
    if refusal:
        with pytest.raises(InvalidPhoneNumber, match=refusal):
            to_e164(raw)
    else:
        assert to_e164(raw) == raw


def test_other_shapes_still_parse_in_full() -> None:
    assert to_e164("(212) 555-0123") == "+12125550123"
    assert to_e164("+1 212 555 0123") == "+12125550123"
    # Non-ASCII digits are not the E.164 shape: they take the full parse.
    assert _answer("+1\u0662125550123") == _full_check("+1\u0662125550123")
