"""Caps over rolling windows and retry spacing (RULES.md 2 and 5; DESIGN rule 8).

Every cap counts the person's attempts for the same purpose in (t - window, t]
and lifts when the limit-th newest of them leaves the window. 2026-11-18 is a
Wednesday; 17:00Z is noon in New York.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.decision import decide
from tests.decision.builders import attempts, number, task, utc, with_queue

AT = utc(2026, 11, 18, 17)
H = timedelta(hours=1)
D = timedelta(days=1)

CASES = [
    # cite, purpose, area, state, line type, attempt instants, blocked, next_allowed_at
    (
        "64.1200(a)(9): 1 reminder per 24 h to a mobile",
        "reminder",
        "212",
        "NY",
        "mobile",
        [AT - 23 * H],
        True,
        AT + H,
    ),
    (
        "64.1200(a)(9): the day slides: 24 h and 1 s ago is gone",
        "reminder",
        "212",
        "NY",
        "mobile",
        [AT - 24 * H - timedelta(seconds=1)],
        False,
        AT,
    ),
    (
        "64.1200(a)(9): exactly 24 h ago has just left the window",
        "reminder",
        "212",
        "NY",
        "mobile",
        [AT - 24 * H],
        False,
        AT,
    ),
    (
        "64.1200(a)(9): 3 reminders per rolling 7 days",
        "reminder",
        "212",
        "NY",
        "mobile",
        [AT - 2 * D - 2 * H, AT - 4 * D - 2 * H, AT - 6 * D - 2 * H],
        True,
        AT + D - 2 * H,
    ),
    (
        "64.1200(a)(9): the 4th-newest is older than 7 days",
        "reminder",
        "212",
        "NY",
        "mobile",
        [AT - 2 * D, AT - 4 * D, AT - 7 * D - H],
        False,
        AT,
    ),
    (
        "64.1200(a)(9): a line of unknown type is treated as wireless",
        "reminder",
        "212",
        "NY",
        "unknown",
        [AT - 2 * H],
        True,
        AT + 22 * H,
    ),
    (
        "64.1200(a)(9) is about wireless: a landline reminder is not capped",
        "reminder",
        "212",
        "NY",
        "landline",
        [AT - 2 * H],
        False,
        AT,
    ),
    (
        "Fla. Stat. 501.616(6)(b): 3 solicitation calls per 24 h",
        "reactivation",
        "305",
        "FL",
        "landline",
        [AT - H, AT - 5 * H, AT - 20 * H],
        True,
        AT + 4 * H,
    ),
    (
        "Fla. Stat. 501.616(6)(b): lifting at 22:00 EST waits for the window",
        "reactivation",
        "305",
        "FL",
        "landline",
        [AT - H, AT - 2 * H, AT - 15 * H],
        True,
        utc(2026, 11, 19, 14),
    ),  # cap lifts 03:00Z, Florida's 08:00 CST is 14:00Z
    (
        "15 O.S. 775C.4: Oklahoma, same cap",
        "reactivation",
        "405",
        "OK",
        "landline",
        [AT - H, AT - 2 * H, AT - 3 * H],
        True,
        AT + 21 * H,
    ),
    (
        "Md. Com. Law 14-4501: Maryland, same cap",
        "reactivation",
        "410",
        "MD",
        "landline",
        [AT - H, AT - 2 * H, AT - 3 * H],
        True,
        AT + 21 * H,
    ),
    (
        "no cap for solicitation into New York",
        "reactivation",
        "212",
        "NY",
        "landline",
        [AT - H, AT - 2 * H, AT - 3 * H],
        False,
        AT,
    ),
    (
        "no cap on callbacks a person asked for",
        "callback",
        "305",
        "FL",
        "mobile",
        [AT - H, AT - 2 * H, AT - 3 * H, AT - 4 * H],
        False,
        AT,
    ),
]


@pytest.mark.parametrize(
    ("cite", "purpose", "npa", "state", "line", "history", "blocked", "next_at"),
    CASES,
    ids=[c[0][:60] for c in CASES],
)
def test_it_caps_per_person_over_sliding_windows(
    cite, purpose, npa, state, line, history, blocked, next_at
):
    facts = task(
        AT,
        purpose=purpose,
        e164=number(npa),
        state=state,
        line_type=line,
        recent_attempts=attempts(*history, purpose=purpose),
    )
    decision = decide(facts, AT)
    assert decision.codes == (("frequency_cap",) if blocked else ()), (cite, decision.reasons)
    assert decision.next_allowed_at == next_at, cite
    if blocked:
        again = decide(facts, next_at)
        assert again.allowed, (cite, again.reasons)


def test_only_attempts_for_the_same_purpose_count():
    history = attempts(AT - H, AT - 2 * H, AT - 3 * H, purpose="reminder")
    facts = task(
        AT, purpose="reactivation", e164=number("305"), state="FL", recent_attempts=history
    )
    assert decide(facts, AT).allowed


def test_the_cap_detail_says_which_rule_and_how_many():
    history = attempts(AT - H, AT - 2 * H, AT - 3 * H)
    facts = task(
        AT, purpose="reactivation", e164=number("305"), state="FL", recent_attempts=history
    )
    (reason,) = decide(facts, AT).reasons
    assert reason.detail == (
        "3 reactivation attempts to this person in the last 24 h; Florida allows 3"
    )


def test_retry_spacing_holds_the_next_attempt():
    facts = with_queue(task(AT, last_attempt_at=AT - 30 * timedelta(minutes=1)), retry_minutes=60)
    decision = decide(facts, AT)
    assert decision.codes == ("frequency_cap",)
    assert "retry spacing: 60 min" in decision.reasons[0].detail
    assert decision.next_allowed_at == AT + 30 * timedelta(minutes=1)


def test_retry_spacing_that_ends_after_hours_moves_to_the_next_window():
    at = utc(2026, 11, 19, 1, 30)  # 20:30 in New York
    facts = with_queue(task(at, last_attempt_at=at - timedelta(minutes=10)), retry_minutes=60)
    decision = decide(facts, at)
    assert decision.codes == ("frequency_cap",)
    assert decision.next_allowed_at == utc(2026, 11, 19, 13)  # 08:00 EST


def test_the_cap_window_and_retry_spacing_resolve_together():
    """Florida cap lifts at 18:00Z, retry spacing at 19:00Z: both hold from 19:00Z."""
    history = attempts(AT - H, AT - 2 * H, AT - 23 * H)
    facts = with_queue(
        task(
            AT,
            purpose="reactivation",
            e164=number("305"),
            state="FL",
            recent_attempts=history,
            last_attempt_at=AT - H,
        ),
        retry_minutes=180,
    )
    decision = decide(facts, AT)
    assert decision.codes == ("frequency_cap", "frequency_cap")
    assert decision.next_allowed_at == AT + 2 * H
