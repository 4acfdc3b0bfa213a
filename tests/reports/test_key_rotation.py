"""Key rotation: every encrypted value re-encrypted under the new key, every row still readable."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from consent.disclosures import disclosure_record
from consent.models import AlumniImport, Disclosure
from consent.services import consent_revoke
from dialer.models import AppointmentImport
from dnc.services import internal_dnc_add
from reports.keyrotation import current_fernets, encrypted_fields, field_keys_rotate
from tests.conftest import SYSTEM, Portfolio
from tests.consent.conftest import part2, written

OLD_KEY = "test-field-key-not-for-production-0123456789"
NEW_KEY = "rotated-field-key-for-the-tests-9876543210"


def _forget_derived_keys() -> None:
    # The library caches the derived keys on each field: drop them with the settings.
    for _, model_field in encrypted_fields():
        model_field.__dict__.pop("keys", None)
        model_field.__dict__.pop("f", None)


@pytest.fixture
def use_keys() -> Iterator[Any]:
    saved = (settings.SALT_KEY, settings.FIELD_ENCRYPTION_KEYS)

    def use(*keys: str) -> None:
        settings.SALT_KEY = settings.FIELD_ENCRYPTION_KEYS = list(keys)
        _forget_derived_keys()

    use(OLD_KEY)
    yield use
    settings.SALT_KEY, settings.FIELD_ENCRYPTION_KEYS = saved
    _forget_derived_keys()


@pytest.fixture
def everything_encrypted(portfolio: Portfolio, use_keys: Any) -> None:
    """At least one value in every encrypted column, written under the old key."""
    contact = portfolio.contact_a
    entry, _ = internal_dnc_add(
        number_e164="+13055550188",
        source="admin",
        note="asked twice",
        actor=SYSTEM,
        program_id=portfolio.program_a.pk,
    )
    from dnc.services import internal_dnc_remove

    internal_dnc_remove(
        entry_id=entry.pk, reason="entered_in_error", note="wrong person", actor=SYSTEM
    )
    consent = part2(contact, recipients=[contact.program.slug, "Dr. Outside Clinic"])
    # A channel outside the list keeps its words, encrypted (revocation_channel_label).
    consent_revoke(consent_id=consent.pk, channel="by letter", reason="moved away", actor=SYSTEM)
    written(contact, number="+13055550123")
    disclosure_record(
        contact=contact,
        recipient="County Court",
        purpose="treatment",
        description="dates",
        actor=SYSTEM,
        consent=consent,
    )
    AlumniImport.objects.create(
        queue=portfolio.reactivation_a,
        status="queued",
        content="name,phone\nX,+13055550111\n",
        requested_by=SYSTEM,
    )
    AppointmentImport.objects.create(
        queue=portfolio.reactivation_a,
        content="external_id,contact,starts_at\nE-1,1,2026-12-01T15:00:00Z\n",
        requested_by=SYSTEM,
    )


def _plaintexts() -> dict[str, dict[Any, str]]:
    """Every stored value, decrypted strictly with the keys in force (no silent pass-through)."""
    _, every_key = current_fernets()
    values: dict[str, dict[Any, str]] = {}
    for model, model_field in encrypted_fields():
        label = f"{model._meta.label_lower}.{model_field.name}"
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT id, "{model_field.column}" FROM "{model._meta.db_table}"'  # noqa: S608
                f' WHERE "{model_field.column}" IS NOT NULL'
            )
            values[label] = {
                pk: every_key.decrypt(token.encode()).decode() for pk, token in cursor.fetchall()
            }
    return values


def _orm_values() -> dict[str, dict[Any, str]]:
    return {
        f"{model._meta.label_lower}.{f.name}": dict(
            model._default_manager.exclude(**{f"{f.name}__isnull": True}).values_list("pk", f.name)
        )
        for model, f in encrypted_fields()
    }


@pytest.mark.django_db
def test_rotation_keeps_every_row_readable_under_the_new_key_alone(
    everything_encrypted: None, use_keys: Any
) -> None:
    before = _plaintexts()
    empty = [label for label, found in before.items() if not found]
    assert not empty, f"plant a value in every encrypted column (everything_encrypted): {empty}"
    use_keys(NEW_KEY, OLD_KEY)
    out = io.StringIO()
    call_command("rotate_field_keys", "--batch-size=2", stdout=out)
    total = sum(len(found) for found in before.values())
    assert f"Done: {total} values re-encrypted" in out.getvalue()
    use_keys(NEW_KEY)  # the old key is gone: everything must still read, strictly
    assert _plaintexts() == before
    assert _orm_values() == before
    event = AuditEvent.objects.get(action="keys.rotated")
    assert event.data["fields"]["campaigns.contact.first_name"]["rotated"] == 2
    assert "Avery" not in str(event.data)


@pytest.mark.django_db
def test_a_second_run_has_nothing_left_to_do(everything_encrypted: None, use_keys: Any) -> None:
    use_keys(NEW_KEY, OLD_KEY)
    first = field_keys_rotate(actor=SYSTEM)
    second = field_keys_rotate(actor=SYSTEM)
    assert first.rotated > 0
    assert second.rotated == 0
    assert sum(f.current for f in second.fields) == first.rotated


@pytest.mark.django_db
def test_a_dry_run_changes_nothing(everything_encrypted: None, use_keys: Any) -> None:
    use_keys(NEW_KEY, OLD_KEY)
    before = _plaintexts()
    report = field_keys_rotate(actor=SYSTEM, dry_run=True)
    assert report.rotated == sum(len(found) for found in before.values())
    use_keys(NEW_KEY)
    with pytest.raises(InvalidToken):
        _plaintexts()  # still under the old key only


@pytest.mark.django_db
def test_append_only_disclosures_stay_append_only(
    everything_encrypted: None, use_keys: Any
) -> None:
    use_keys(NEW_KEY, OLD_KEY)
    field_keys_rotate(actor=SYSTEM)
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.update(purpose="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.all().delete()


@pytest.mark.django_db
def test_a_value_no_key_reads_stops_the_rotation_without_showing_it(
    portfolio: Portfolio, use_keys: Any
) -> None:
    contact = portfolio.contact_b
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_contact SET last_name = %s WHERE id = %s",
            ["gAAAAABsecret-but-not-a-token", contact.pk],
        )
    use_keys(NEW_KEY, OLD_KEY)
    with pytest.raises(CommandError, match="keep every old key") as caught:
        call_command("rotate_field_keys", stdout=io.StringIO())
    assert "secret" not in str(caught.value)
    report = field_keys_rotate(actor=SYSTEM, dry_run=True)
    unreadable = {f.label: f.unreadable_ids for f in report.fields if f.unreadable_ids}
    assert unreadable == {"campaigns.contact.last_name": [contact.pk]}
    # Everything else was rotated all the same.
    first_names = next(f for f in report.fields if f.label == "campaigns.contact.first_name")
    assert (first_names.rotated, first_names.current) == (0, 2)
