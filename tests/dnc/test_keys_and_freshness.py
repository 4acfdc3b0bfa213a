"""Number keys, the in-memory set of internal keys, progress output, and what freshness blocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.phones import InvalidPhoneNumber
from dialer import decision
from dnc.keys import KeySet, key_from_e164, key_from_text, keys_from_numbers
from dnc.registry.progress import Progress
from dnc.selectors import registry_as_of_many
from tests.dnc.conftest import load, write

KEY = st.integers(min_value=2_000_000_000, max_value=9_999_999_999)


@given(members=st.lists(KEY, max_size=300), probes=st.lists(KEY, max_size=300))
@settings(max_examples=60, deadline=None)
def test_a_key_set_answers_like_isin(members: list[int], probes: list[int]) -> None:
    keys = np.array(probes + members[::2], np.int64)
    found = KeySet(np.array(members, np.int64)).contains(keys)
    assert np.array_equal(found, np.isin(keys, np.array(members, np.int64)))


def test_every_writing_of_a_number_has_one_key() -> None:
    ways = ["(212) 555-0123", "212.555.0123", "1 212 555 0123", "+1-212-555-0123", "2125550123"]
    assert {key_from_text(way) for way in ways} == {2125550123}
    keys, valid = keys_from_numbers([*ways, "+12125550123", "0125550123", "+44 20 7946 0958", "x"])
    assert keys[:6].tolist() == [2125550123] * 6
    assert valid.tolist() == [True] * 6 + [False] * 3
    with pytest.raises(InvalidPhoneNumber) as caught:
        key_from_e164("212-555-0123")
    assert "0123" not in str(caught.value)


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    for tty in (True, False):
        out = StringIO()
        progress = Progress(out, total=100, label="national full", tty=tty, interval=0)
        progress.advance(nbytes=50, rows=5)
        progress.phase("indexing")
        progress.finish()
        text = out.getvalue()
        if tty:
            assert "\rnational full [###############...............]  50.0%" in text
        else:
            assert "\r" not in text
            assert text.splitlines()[0].startswith("national full:  50.0%  5 rows")
        assert "national full: indexing\n" in text


@pytest.mark.django_db
def test_a_stale_or_missing_copy_blocks_solicitation_but_not_a_callback(tmp_path: Path) -> None:
    at = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # a Wednesday, noon in New York
    load("national", write(tmp_path / "305.txt", ["3055550101"]), as_of=date(2026, 10, 1))
    load("national", write(tmp_path / "212.txt", ["2125550101"]), as_of=date(2026, 11, 10))
    as_of = registry_as_of_many(numbers=["+13055550123", "+16025550123", "+12125550123"])

    def decide(purpose: str, number: str) -> tuple[str, ...]:
        facts = decision.TaskFacts(
            task_id=None,
            program=decision.ProgramFacts(
                1, "NY", "America/New_York", time(8), time(21), frozenset(range(7)), True
            ),
            queue=decision.QueueFacts(
                1, purpose, time(9), time(20), frozenset(range(7)), 3, 60, True, False
            ),
            contact=decision.ContactFacts("NY", "10001", "none"),
            number=decision.NumberFacts(number, "mobile", True),
            dnc=decision.DncFacts(False, False, frozenset()),
            registry=decision.RegistryFacts(
                national_as_of=as_of[number].national, state_as_of=dict(as_of[number].states)
            ),
            consents=(),
            recent_attempts=(),
            attempts_made=0,
            last_attempt_at=None,
            callback_requested_at=at - timedelta(minutes=5) if purpose == "callback" else None,
            appointment_at=None,
        )
        return decision.decide(facts, at).codes

    assert "registry_stale" in decide("reactivation", "+13055550123")  # 48 days old
    assert "registry_stale" in decide("reactivation", "+16025550123")  # no copy for 602
    assert "registry_stale" not in decide("reactivation", "+12125550123")
    assert "registry_stale" not in decide("callback", "+13055550123")
    assert "registry_stale" not in decide("callback", "+16025550123")
