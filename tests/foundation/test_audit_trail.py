"""The audit trail is append-only in the database and its hash chain exposes tampering.

Rows are appended unsealed and sealed once by the sealer (audit_seal); the database lets
exactly that one change through and refuses every other.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record, audit_seal, audit_verify


def _events(n: int) -> list[AuditEvent]:
    """n events, sealed."""
    pks = [
        audit_record(actor="system:tests", action="thing.done", object_type="thing", object_id=i).pk
        for i in range(n)
    ]
    assert audit_seal() == n
    return list(AuditEvent.objects.filter(pk__in=pks).order_by("seq"))


def _update(sql: str, params: list[str | int]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_it_refuses_update_at_the_database_level() -> None:
    event = _events(1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE id = %s", [event.pk])


@pytest.mark.django_db
def test_it_refuses_any_update_of_an_unsealed_row_but_its_seal() -> None:
    event = audit_record(actor="system:tests", action="thing.done", object_type="thing")
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        # Sealing while changing something else, or only half a seal.
        "UPDATE audit_auditevent SET seq = 1, prev_hash = repeat('0', 64),"
        " hash = repeat('1', 64), actor = 'user:9' WHERE id = %s",
        "UPDATE audit_auditevent SET seq = 1 WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _update(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).seq is None


@pytest.mark.django_db
def test_it_refuses_a_second_seal() -> None:
    event = _events(1)[0]
    with pytest.raises(DatabaseError, match="append-only"):
        _update(
            "UPDATE audit_auditevent SET seq = 2, prev_hash = repeat('0', 64),"
            " hash = repeat('2', 64) WHERE id = %s",
            [event.pk],
        )
    assert AuditEvent.objects.get(pk=event.pk).hash == event.hash


@pytest.mark.django_db
def test_it_refuses_a_row_inserted_sealed() -> None:
    with pytest.raises(DatabaseError, match="inserted unsealed"), transaction.atomic():
        AuditEvent.objects.create(
            occurred_at=timezone.now(),
            actor="system:tests",
            action="thing.done",
            object_type="thing",
            seq=1,
            prev_hash="0" * 64,
            hash="1" * 64,
        )
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_it_refuses_delete_at_the_database_level() -> None:
    event = _events(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_it_chains_each_event_to_the_previous_one() -> None:
    first, second, third = _events(3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert list(audit_verify()) == []
    call_command("verify_audit")


def _tamper(sql: str, params: list[str | int]) -> None:
    """What a DBA with owner rights could do: switch the trigger off, edit, switch it back."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


@pytest.mark.django_db
def test_verify_audit_catches_an_altered_row() -> None:
    events = _events(4)
    _tamper("UPDATE audit_auditevent SET reason = 'edited' WHERE id = %s", [events[1].pk])
    breaks = list(audit_verify())
    assert [b.event_id for b in breaks] == [events[1].pk]
    with pytest.raises(CommandError, match="audit trail broken"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_catches_a_deleted_row() -> None:
    events = _events(4)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    breaks = list(audit_verify())
    assert [b.event_id for b in breaks] == [events[3].pk]


@pytest.mark.django_db
def test_verify_audit_catches_a_rehashed_row() -> None:
    """Recomputing one row's hash after editing it still breaks the next row's link."""
    from audit.chain import event_hash

    events = _events(3)
    target = AuditEvent.objects.get(pk=events[1].pk)
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
    assert [b.event_id for b in audit_verify()] == [events[2].pk]


@pytest.mark.django_db
def test_events_recorded_together_are_one_insert_in_order_and_seal_into_the_chain() -> None:
    from django.test.utils import CaptureQueriesContext

    from audit.services import audit_record_many, audit_together

    with CaptureQueriesContext(connection) as queries, transaction.atomic(), audit_together():
        first = audit_record(actor="system:tests", action="one.done", object_type="thing")
        audit_record_many(
            [{"actor": "system:tests", "action": f"{n}.done", "object_type": "thing"} for n in "ab"]
        )
        last = audit_record(actor="system:tests", action="two.done", object_type="thing")
        assert first.pk is None  # written when the block ends
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "audit_auditevent"')]
    assert len(inserts) == 1
    assert first.pk is not None and last.pk is not None and first.pk < last.pk
    assert audit_seal() == 4
    written = AuditEvent.objects.order_by("seq").values_list("action", flat=True)
    assert list(written) == ["one.done", "a.done", "b.done", "two.done"]
    assert list(audit_verify()) == []


@pytest.mark.django_db
def test_events_of_a_block_that_fails_are_not_written() -> None:
    from audit.services import audit_together

    with pytest.raises(RuntimeError), transaction.atomic(), audit_together():
        audit_record(actor="system:tests", action="thing.done", object_type="thing")
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()
