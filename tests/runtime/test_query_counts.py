"""Pinned query counts on the hot paths: a callback posted, a planner batch, a dispatch chunk.

Each count is the same for 3 tasks as for 9: the facts are read in bulk. If a
count grows, a query was added per task or per request: batch it with the
others (dialer.selectors, the task-facts row) rather than raising the pin.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns.models import Contact, Program
from campaigns.services import PhoneInput, contact_create
from dialer.api.clients import api_client_create
from dialer.models import CallTask
from dialer.runtime.dispatch import dispatch_tasks
from dialer.runtime.planner import plan_queue
from dnc.registry.load import RegistryInput, registry_load
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, new_task, open_queue

# POST /api/v1/callbacks/: the token; generic plans for the transaction, the queue and
# the number's holder (one round trip); the contact and its number (one statement); the
# task's facts (DNC, attempts and RND answers together, in one round trip; no consents for
# a contact made in this request; the registry's coverage is read once per registry
# version, kept when that read commits); the task, saved with its decision; the audit
# events of the contact and the task, in one statement; the idempotency key kept in one
# statement (a new key is read by nothing else); BEGIN and COMMIT (no savepoint: a
# duplicate open task is seen by ON CONFLICT). Audit rows are appended without a lock and
# sealed later (audit_seal).
CALLBACK_QUERIES = 13
# One planner batch of a queue: claim the due tasks, read their facts in bulk, write the
# decisions back in bulk with their audit events.
PLANNER_QUERIES = 17
# One dispatch chunk: claim the tasks (with every column of the task row: a deferred one
# would cost a query per task), read their facts in bulk, write the attempts, the tasks and
# the audit events in bulk.
DISPATCH_QUERIES = 24


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=False):
        yield


def _contacts(program: Program, n: int, first: int = 1000) -> list[Contact]:
    return [
        contact_create(
            program=program, state="FL", phones=[PhoneInput(f"(305) 555-{i:04d}")], actor=SYSTEM
        )
        for i in range(first, first + n)
    ]


def _count(run: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


@pytest.mark.django_db
def test_a_callback_posted_costs_a_fixed_number_of_queries(
    monday: None,
    portfolio: Portfolio,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    from dnc import index, selectors

    settings.DNC_INDEX_DIR = str(tmp_path / "index")
    index._current, selectors._coverage_cache = None, None
    listed = tmp_path / "national.txt"
    listed.write_text("3055550999\n")
    # A registry in force, as in production: its coverage is kept per version.
    registry_load(
        source="national",
        kind="full",
        inputs=[RegistryInput(listed)],
        as_of=date(2026, 11, 20),
        actor=SYSTEM,
    )
    open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def post(phone: str, key: str) -> None:
        response = client.post(
            "/api/v1/callbacks/",
            {"phone": phone, "source": "web-form"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code == 201, response.json()

    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        post("(305) 555-0170", "warm")  # per-process caches
    counts = [_count(lambda i=i: post(f"(305) 555-017{i}", f"k-{i}")) for i in (1, 2)]
    assert counts == [CALLBACK_QUERIES] * 2


@pytest.mark.parametrize("threshold", [2, None])
@pytest.mark.django_db
def test_a_callback_plans_generic_only_with_prepared_statements(
    monday: None, portfolio: Portfolio, threshold: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-planning the facts' reads for each callback cost most of their database CPU, so a
    callback's transaction plans generic; without prepared statements (a pooler), every
    statement would be planned afresh, generic, for the whole registry: it does not."""
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "prepare_threshold", threshold)
    open_queue(portfolio.callback_a)
    _, token = api_client_create(program=portfolio.program_a, name="crm", actor=SYSTEM)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/callbacks/", {"phone": "(305) 555-0170"}, content_type="application/json"
        )
    assert response.status_code == 201, response.json()
    sql = [q["sql"] for q in queries.captured_queries]
    generic = [i for i, s in enumerate(sql) if "plan_cache_mode = force_generic_plan" in s]
    if threshold is None:
        assert generic == []
    else:  # set once, before the task's facts are read
        facts = next(i for i, s in enumerate(sql) if "dnc_internaldncentry" in s)
        assert len(generic) == 1 and generic[0] < facts


@pytest.mark.django_db
def test_a_planner_batch_costs_the_same_for_3_tasks_as_for_9(
    monday: None, portfolio: Portfolio
) -> None:
    queue = open_queue(portfolio.callback_a)
    counts = []
    for first, n in ((1000, 3), (2000, 9)):
        for contact in _contacts(portfolio.program_a, n, first):
            new_task(queue, contact)
        with CaptureQueriesContext(connection) as queries:
            result = plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
        counts.append(len(queries))
        assert len(result.allowed) == n
    assert counts == [PLANNER_QUERIES] * 2


@pytest.mark.django_db
def test_a_dispatch_chunk_reads_its_facts_once(monday: None, portfolio: Portfolio) -> None:
    queue = open_queue(portfolio.callback_a)
    counts = []
    for first, n in ((1000, 3), (2000, 9)):
        tasks = [new_task(queue, c) for c in _contacts(portfolio.program_a, n, first)]
        plan_queue(queue_id=queue.pk, enqueue=lambda ids: None)
        ids = [t.pk for t in tasks]
        counts.append(_count(lambda ids=ids: dispatch_tasks(task_ids=ids)))
        assert CallTask.objects.filter(pk__in=ids, status="in_progress").count() == n
    assert counts == [DISPATCH_QUERIES] * 2
