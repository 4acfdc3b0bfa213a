"""Each phone keeps the registries' answer per generation: a tick then decrypts no number.

The kept answer must give the very decisions that decrypting and scrubbing give;
a new registry generation makes every kept answer stale (the numbers are read
again) until the refresh; a phone whose number no key decrypts is marked and
its calls refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine

from campaigns.models import PhoneNumber, Queue
from dialer.decision import decide_batch
from dialer.listings import UNREADABLE, listings_refresh
from dialer.rows import TaskRow, due_task_rows
from dialer.selectors import task_facts_many
from tests.conftest import Portfolio
from tests.dnc.conftest import load, write
from tests.runtime.helpers import MONDAY_MORNING, new_task, open_queue
from tests.seams.test_unreadable_values import (
    LISTED,
    OTHER,
    _codes,
    _other_contact,
    _plan,
    _under_another_key,
)


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=False):
        yield


def _rows(queue: Queue) -> list[TaskRow]:
    return due_task_rows(queue_id=queue.pk, now=MONDAY_MORNING, limit=100)


def _answers(rows: list[TaskRow]) -> list[tuple[object, ...]]:
    facts = task_facts_many(rows, at=MONDAY_MORNING)
    decisions = decide_batch(facts, MONDAY_MORNING)
    return [
        (f.task_id, f.dnc, f.registry, f.consents, f.rnd, f.person_keys, d.to_dict())
        for f, d in zip(facts, decisions, strict=True)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("queue_name", ["callback_a", "reactivation_a"])
def test_a_tick_reads_no_number_once_refreshed_and_decides_the_same(
    portfolio: Portfolio, monday: None, tmp_path: Path, queue_name: str
) -> None:
    queue = open_queue(getattr(portfolio, queue_name))
    listed = new_task(queue, portfolio.contact_a)
    other = new_task(queue, _other_contact(portfolio))
    load("national", write(tmp_path / "305.txt", [LISTED[2:]]))

    read = _rows(queue)  # every kept answer predates the load: each number is read
    assert [r.number for r in read] == [LISTED, OTHER]
    assert listings_refresh() == PhoneNumber.objects.exclude(exchange="").count()

    kept = _rows(queue)
    assert [(r.number, r.number_read) for r in kept] == [(None, False), (None, False)]
    assert _answers(kept) == _answers(read)
    national = {f.task_id: f.dnc.national for f in task_facts_many(kept, at=MONDAY_MORNING)}
    assert national == {listed.pk: True, other.pk: False}

    # A new generation: the kept answers are stale, the numbers read again until refreshed.
    load("national", write(tmp_path / "305b.txt", [OTHER[2:]]))
    again = _rows(queue)
    assert [r.number for r in again] == [LISTED, OTHER]
    listings_refresh()
    kept = _rows(queue)
    assert not any(r.number_read for r in kept)
    assert _answers(kept) == _answers(again)
    national = {f.task_id: f.dnc.national for f in task_facts_many(kept, at=MONDAY_MORNING)}
    assert national == {listed.pk: False, other.pk: True}


@pytest.mark.django_db
def test_an_opt_out_counts_at_once_for_a_kept_answer(
    portfolio: Portfolio, monday: None, tmp_path: Path
) -> None:
    from dnc.services import internal_dnc_add
    from tests.runtime.helpers import SYSTEM

    queue = open_queue(portfolio.callback_a)
    task = new_task(queue, portfolio.contact_a)
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    listings_refresh()
    internal_dnc_add(number_e164=LISTED, source="api", note="", actor=SYSTEM, program_id=None)

    assert _plan(portfolio) == []
    assert "internal_dnc" in _codes(task)


@pytest.mark.django_db
def test_a_phone_no_key_decrypts_is_marked_by_the_refresh_and_refused(
    portfolio: Portfolio, monday: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = open_queue(portfolio.callback_a)
    unreadable = new_task(queue, portfolio.contact_a)
    readable = new_task(queue, _other_contact(portfolio))
    load("national", write(tmp_path / "212.txt", ["2125550101"]))
    token = _under_another_key("campaigns_phonenumber", unreadable.phone_id, LISTED)

    listings_refresh()

    marked = PhoneNumber.objects.filter(pk=unreadable.phone_id).values_list("registry_lists")
    assert marked.get() == (UNREADABLE,)
    assert _plan(portfolio) == [readable.pk]
    assert "invalid_number" in _codes(unreadable)
    assert token not in caplog.text and LISTED not in caplog.text
