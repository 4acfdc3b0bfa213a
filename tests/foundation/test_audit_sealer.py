"""The sealer links every committed audit row into one chain, whatever the commit order,
and verify_audit reports a tampered sealed row and an unsealed tail that waited too long."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from audit.chain import event_hash
from audit.models import AuditEvent
from audit.services import (
    UnsealedTail,
    audit_record,
    audit_record_many,
    audit_seal,
    audit_seal_loop,
    audit_unsealed_tail,
    audit_verify,
)


def _record(i: int | str) -> AuditEvent:
    return audit_record(actor="system:tests", action="thing.done", object_type="thing", object_id=i)


def _chain() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("seq"))


def _tamper(sql: str, params: list[str | int]) -> None:
    """What a DBA with owner rights could do: switch the trigger off, edit, switch it back."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


@pytest.mark.django_db
def test_it_appends_unsealed_and_the_sealer_links_every_row_in_order() -> None:
    _record(0)
    audit_record_many(
        [
            {
                "actor": "system:tests",
                "action": "thing.done",
                "object_type": "thing",
                "object_id": i,
            }
            for i in (1, 2, 3)
        ]
    )
    assert list(AuditEvent.objects.values_list("seq", "hash")) == [(None, "")] * 4

    assert audit_seal(batch_size=3) == 3  # a pass seals a batch; the next one the rest
    assert audit_seal(batch_size=3) == 1
    assert audit_seal() == 0

    chain = _chain()
    assert [e.seq for e in chain] == [1, 2, 3, 4]
    assert [e.object_id for e in chain] == ["0", "1", "2", "3"]
    assert [e.prev_hash for e in chain] == ["0" * 64] + [e.hash for e in chain[:-1]]
    assert list(audit_verify()) == []
    assert audit_unsealed_tail(count=True) == UnsealedTail(0, None, 0.0)  # nothing waits


@pytest.mark.django_db(transaction=True)
def test_a_row_that_commits_after_a_later_one_is_sealed_after_it_with_no_gap() -> None:
    """Ids are taken at INSERT, rows appear at COMMIT: the chain follows what is visible."""
    inserted, release = threading.Event(), threading.Event()
    early: list[int] = []

    def slow_request() -> None:
        try:
            with transaction.atomic():
                early.append(_record("slow").pk)
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_request)
    writer.start()
    try:
        assert inserted.wait(10)
        late = _record("fast")  # a higher id, committed first
        assert late.pk > early[0]
        assert audit_seal() == 1  # the in-flight row is not visible: not sealed, no hole
    finally:
        release.set()
        writer.join(10)
    assert audit_seal() == 1

    chain = _chain()
    assert [(e.seq, e.object_id) for e in chain] == [(1, "fast"), (2, "slow")]
    assert chain[1].prev_hash == chain[0].hash
    assert list(audit_verify()) == []
    call_command("verify_audit")


@pytest.mark.django_db(transaction=True)
def test_the_sealer_loop_seals_what_concurrent_writers_commit() -> None:
    writers, events = 4, 25

    def write(w: int) -> None:
        try:
            for i in range(events):
                with transaction.atomic():
                    _record(f"{w}-{i}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    sealed = 0
    while any(t.is_alive() for t in threads):
        sealed += audit_seal_loop(seconds=0.2, interval=0.1)
    for t in threads:
        t.join()
    sealed += audit_seal_loop(seconds=0, interval=0.1)

    assert sealed == writers * events
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, writers * events + 1)
    )
    assert list(audit_verify()) == []


def _sealed(n: int) -> list[AuditEvent]:
    for i in range(n):
        _record(i)
    audit_seal()
    return _chain()


@pytest.mark.django_db
def test_verify_audit_catches_an_altered_sealed_row() -> None:
    events = _sealed(4)
    _tamper("UPDATE audit_auditevent SET reason = 'edited' WHERE id = %s", [events[1].pk])
    assert [(b.event_id, b.problem) for b in audit_verify()] == [
        (events[1].pk, "content does not match its hash")
    ]
    with pytest.raises(CommandError, match="audit trail broken"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_catches_a_deleted_sealed_row() -> None:
    events = _sealed(4)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    assert [(b.event_id, b.problem) for b in audit_verify()] == [
        (events[3].pk, "1 sealed event(s) missing before this one")
    ]


@pytest.mark.django_db
def test_verify_audit_catches_a_deleted_sealed_row_whose_successors_were_rehashed() -> None:
    """Re-linking the rest of the chain over the hole still leaves the hole in seq."""
    events = _sealed(3)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    last = events[2]
    forged = event_hash(
        prev_hash=events[0].hash,
        occurred_at=last.occurred_at,
        actor=last.actor,
        action=last.action,
        object_type=last.object_type,
        object_id=last.object_id,
        program_id=last.program_id,
        reason=last.reason,
        data=last.data,
    )
    _tamper(
        "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
        [events[0].hash, forged, last.pk],
    )
    assert [b.event_id for b in audit_verify()] == [last.pk]


@pytest.mark.django_db
def test_verify_audit_catches_a_rehashed_sealed_row() -> None:
    events = _sealed(3)
    target = events[1]
    forged = event_hash(
        prev_hash=target.prev_hash,
        occurred_at=target.occurred_at,
        actor="user:999",
        action=target.action,
        object_type=target.object_type,
        object_id=target.object_id,
        program_id=target.program_id,
        reason=target.reason,
        data=target.data,
    )
    _tamper(
        "UPDATE audit_auditevent SET actor = 'user:999', hash = %s WHERE id = %s",
        [forged, target.pk],
    )
    assert [(b.event_id, b.problem) for b in audit_verify()] == [
        (events[2].pk, "link to the previous event does not match")
    ]


@pytest.mark.django_db
def test_verify_audit_reports_an_unsealed_tail_older_than_the_limit() -> None:
    _sealed(2)
    waiting = _record("waiting")
    limit = settings.AUDIT_SEAL_MAX_SECONDS

    # Young enough: intact, the waiting row named as such.
    call_command("verify_audit")
    assert list(audit_verify()) == []

    with time_machine.travel(timezone.now() + timedelta(seconds=limit + 5), tick=False):
        tail = audit_unsealed_tail(count=True)
        assert (tail.count, tail.oldest_id, tail.too_old) == (1, waiting.pk, True)
        breaks = list(audit_verify())
        assert [b.event_id for b in breaks] == [waiting.pk]
        assert f"(limit {limit} s)" in breaks[0].problem
        with pytest.raises(CommandError, match="1 problem"):
            call_command("verify_audit")

    assert audit_seal() == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=limit + 5), tick=False):
        assert list(audit_verify()) == []


@pytest.mark.django_db
def test_health_reports_an_unsealed_tail_older_than_the_limit() -> None:
    _record("waiting")
    assert Client().get("/health/").json()["checks"]["audit"] == "ok"
    later = timezone.now() + timedelta(seconds=settings.AUDIT_SEAL_MAX_SECONDS + 5)
    with time_machine.travel(later, tick=False):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["audit"] == (
        "failing: an audit row waits to be sealed longer than AUDIT_SEAL_MAX_SECONDS"
    )


@pytest.mark.django_db
def test_beat_runs_a_sealing_pass_every_few_seconds_on_the_dispatch_queue() -> None:
    from django_celery_beat.models import PeriodicTask

    from config.celery import app
    from dialer.runtime.schedules import SYSTEM, schedules_sync

    task, _ = SYSTEM["audit sealer"]
    app.loader.import_default_modules()
    assert task in app.tasks
    assert app.amqp.router.route({}, task)["queue"].name == "dispatch"
    schedules_sync()
    row = PeriodicTask.objects.select_related("interval").get(name="audit sealer")
    assert row.interval is not None and row.crontab is None
    assert (row.interval.every, row.interval.period) == (
        settings.AUDIT_SEAL_INTERVAL_SECONDS,
        "seconds",
    )
    assert row.interval.every * 2 < settings.AUDIT_SEAL_MAX_SECONDS
