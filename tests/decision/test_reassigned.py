"""Reassigned numbers (RULES.md 3a): a call relying on an old consent needs the RND's answer.

Each case of the rule, with its reason and next_allowed_at: yes, no (fresh and
stale), no data, none on file, a consent within 45 days, a recent callback.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from dialer.decision import RndAnswerFact, TaskFacts, decide
from tests.decision.builders import SIGNED, consent, rnd_answer, task, utc, written

NOON = utc(2026, 11, 18, 17)  # Wednesday 12:00 in New York
D = timedelta(days=1)
ASKED = SIGNED.date()


def _reactivation(*answers: RndAnswerFact, **kw: Any) -> TaskFacts:
    return task(NOON, purpose="reactivation", rnd=tuple(answers), **kw)


def test_a_fresh_no_lets_the_call_go() -> None:
    decision = decide(_reactivation(rnd_answer(ASKED, "no", NOON - 30 * D)), NOON)
    assert decision.allowed, decision.codes
    assert decision.next_allowed_at == NOON


@pytest.mark.parametrize(
    ("answers", "detail"),
    [
        ((rnd_answer(ASKED, "yes", NOON - D),), "disconnected since 2025-01-01"),
        ((rnd_answer(ASKED, "no", NOON - 32 * D),), "is 32 days old (at most 31)"),
        ((rnd_answer(ASKED, "no_data", NOON - D),), "no data for 2025-01-01"),
        ((), "no RND answer on file for the consent of 2025-01-01"),
        # An answer for another date says nothing about this consent's.
        ((rnd_answer(ASKED + D, "no", NOON - D),), "no RND answer on file"),
    ],
    ids=["yes", "no-stale", "no-data", "none-on-file", "other-date"],
)
def test_reactivation_without_a_fresh_no_is_refused(
    answers: tuple[RndAnswerFact, ...], detail: str
) -> None:
    decision = decide(_reactivation(*answers), NOON)
    assert decision.codes == ("number_reassigned",)
    assert detail in decision.reasons[0].detail
    assert decision.next_allowed_at is None
    assert "+1" not in decision.reasons[0].detail


@pytest.mark.parametrize("purpose", ["reminder", "callback"])
def test_yes_blocks_every_purpose_relying_on_that_consent(purpose: str) -> None:
    old = consent("tcpa_express", purpose)
    facts = task(
        NOON,
        purpose=purpose,
        consents=(old,),
        rnd=(rnd_answer(ASKED, "yes", NOON - D),),
        # A callback asked for 40 days ago relies on the consent, not on the request.
        callback_requested_at=NOON - 40 * D if purpose == "callback" else None,
    )
    decision = decide(facts, NOON)
    assert "number_reassigned" in decision.codes
    assert decision.next_allowed_at is None


@pytest.mark.parametrize("answers", [(), ("no_data",), ("stale",)])
def test_a_reminder_needs_only_the_absence_of_yes(answers: tuple[str, ...]) -> None:
    rnd = tuple(
        rnd_answer(ASKED, "no" if a == "stale" else a, NOON - (90 if a == "stale" else 1) * D)
        for a in answers
    )
    facts = task(NOON, purpose="reminder", consents=(consent("tcpa_express"),), rnd=rnd)
    assert decide(facts, NOON).allowed


def test_a_consent_within_45_days_needs_no_answer() -> None:
    recent = written("reactivation", signed_at=NOON - 45 * D)
    decision = decide(_reactivation(consents=(recent,)), NOON)
    assert decision.allowed, decision.codes
    older = written("reactivation", signed_at=NOON - 45 * D - timedelta(seconds=1))
    refused = decide(_reactivation(consents=(older,)), NOON)
    assert refused.codes == ("number_reassigned",)
    assert refused.next_allowed_at is None


def test_a_recent_consent_covers_an_old_one_with_yes() -> None:
    """The new subscriber's own consent carries the call; the old one's yes does not block it."""
    old = written("reactivation", id=1)
    new = written("reactivation", id=2, signed_at=NOON - 10 * D)
    decision = decide(_reactivation(rnd_answer(ASKED, "yes", NOON - D), consents=(old, new)), NOON)
    assert decision.allowed, decision.codes


def test_a_callback_asked_for_in_the_last_30_days_needs_no_answer() -> None:
    facts = task(
        NOON,
        purpose="callback",
        consents=(consent("tcpa_express", "callback"),),
        rnd=(rnd_answer(ASKED, "yes", NOON - D),),
        callback_requested_at=NOON - 29 * D,
    )
    decision = decide(facts, NOON)
    assert decision.allowed, decision.codes
    assert decision.next_allowed_at == NOON


def test_the_wait_for_a_window_ends_before_the_answer_goes_stale() -> None:
    """Closed now; the window opens tomorrow at 09:00, after the `no` has aged past 31 days."""
    window = (time(9), time(17))
    at = utc(2026, 11, 18, 23)  # 18:00 in New York
    fresh = decide(
        task(at, purpose="reactivation", window=window, rnd=(rnd_answer(ASKED, "no", at - D),)),
        at,
    )
    assert fresh.codes == ("outside_calling_window",)
    assert fresh.next_allowed_at == utc(2026, 11, 19, 14)
    ageing = task(
        at, purpose="reactivation", window=window, rnd=(rnd_answer(ASKED, "no", at - 31 * D),)
    )
    late = decide(ageing, at)
    assert late.codes == ("outside_calling_window",)
    assert late.next_allowed_at is None
