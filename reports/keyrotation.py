"""Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEY.

Rotation, for the operator: prepend the new key to FIELD_ENCRYPTION_KEY (the
old one stays, so every value still decrypts), restart, run
`manage.py rotate_field_keys`, and drop the old key only once it reports
nothing left under it. The command is batched, resumable (values already under
the first key are skipped) and audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.db import connection, models, transaction
from encrypted_fields.fields import EncryptedFieldMixin, EncryptedJSONField, EncryptedTextField
from psycopg import sql

from audit.services import audit_record

# Tables whose own trigger refuses every UPDATE (append-only records). Rotation
# changes the ciphertext only, never what it says (checked before writing), so
# it lifts exactly these triggers inside each batch's transaction: the lift is
# rolled back with the batch if anything fails, and another session never sees
# it (ALTER TABLE holds the table's lock until the commit).
APPEND_ONLY_TRIGGERS: dict[str, tuple[str, ...]] = {
    "consent_disclosure": ("disclosure_append_only",),
}


class UnsupportedEncryptedField(Exception):
    pass


@dataclass
class FieldRotation:
    label: str  # app_label.model.field: no value, ever
    rotated: int = 0
    current: int = 0
    unreadable_ids: list[Any] = field(default_factory=list)


@dataclass
class RotationReport:
    fields: list[FieldRotation]
    dry_run: bool

    @property
    def rotated(self) -> int:
        return sum(f.rotated for f in self.fields)

    @property
    def unreadable(self) -> int:
        return sum(len(f.unreadable_ids) for f in self.fields)


def encrypted_fields() -> Iterator[tuple[type[models.Model], models.Field[Any, Any]]]:
    """Every encrypted column of every concrete, managed model."""
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        for model_field in meta.local_fields:
            if isinstance(model_field, EncryptedJSONField):
                # Its values are JSON with a token per leaf: not handled here, so refuse.
                raise UnsupportedEncryptedField(f"{meta.label}.{model_field.name}")
            if isinstance(model_field, EncryptedFieldMixin):
                yield model, model_field


def current_fernets() -> tuple[Fernet, MultiFernet]:
    """The first key (encrypts) and all keys (decrypt), derived as the fields derive them."""
    keys = EncryptedTextField().keys  # a fresh field: the keys of the settings in force now
    return Fernet(keys[0]), MultiFernet([Fernet(key) for key in keys])


def field_keys_rotate(
    *, actor: str, batch_size: int = 1000, dry_run: bool = False
) -> RotationReport:
    """Re-encrypt under the first key every value that is not, batch by batch.

    1. For each encrypted column, walk the rows in primary-key order, `batch_size`
       at a time, locking each batch (FOR UPDATE) inside its own transaction.
    2. A value the first key decrypts is current: left alone.
    3. Any other value is decrypted with all keys and encrypted with the first;
       the new token must decrypt, with the first key alone, to the same text.
    4. A value no key decrypts is left alone and reported by primary key (never
       by value): the command then fails, so the old key is not dropped.
    5. One audit event at the end with the counts (or on failure, what was done).
    """
    primary, every_key = current_fernets()
    report = RotationReport(fields=[], dry_run=dry_run)
    try:
        for model, model_field in encrypted_fields():
            result = FieldRotation(f"{model._meta.label_lower}.{model_field.name}")
            report.fields.append(result)
            _rotate_column(model, model_field, result, primary, every_key, batch_size, dry_run)
    except Exception:
        _audit(report, actor, action="keys.rotation_failed")
        raise
    _audit(report, actor, action="keys.rotation_checked" if dry_run else "keys.rotated")
    return report


def _rotate_column(
    model: type[models.Model],
    model_field: models.Field[Any, Any],
    result: FieldRotation,
    primary: Fernet,
    every_key: MultiFernet,
    batch_size: int,
    dry_run: bool,
) -> None:
    table = model._meta.db_table
    pk_field = model._meta.pk
    assert pk_field is not None and pk_field.column and model_field.column
    pk_column, column = pk_field.column, model_field.column
    select = sql.SQL(
        "SELECT {pk}, {col} FROM {table} WHERE {pk} > %s AND {col} IS NOT NULL AND {col} <> ''"
        " ORDER BY {pk} LIMIT %s FOR UPDATE"
    )
    update = sql.SQL(
        "UPDATE {table} SET {col} = v.token FROM unnest(%s::bigint[], %s::text[]) AS v(id, token)"
        " WHERE {table}.{pk} = v.id"
    )
    names = {
        "table": sql.Identifier(table),
        "pk": sql.Identifier(pk_column),
        "col": sql.Identifier(column),
    }
    last: Any = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor.connection
            cursor.execute(select.format(**names).as_string(raw), [last, batch_size])
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            ids: list[Any] = []
            tokens: list[str] = []
            for pk, token in rows:
                state, new = _rotated(token, primary, every_key)
                if state == "current":
                    result.current += 1
                elif new is None:
                    result.unreadable_ids.append(pk)
                else:
                    ids.append(pk)
                    tokens.append(new)
            if ids and not dry_run:
                triggers = APPEND_ONLY_TRIGGERS.get(table, ())
                if triggers:
                    # ALTER TABLE refuses while deferred checks are pending (only when
                    # called inside a caller's transaction): run them now.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for trigger in triggers:
                    cursor.execute(
                        sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}")
                        .format(sql.Identifier(table), sql.Identifier(trigger))
                        .as_string(raw)
                    )
                cursor.execute(update.format(**names).as_string(raw), [ids, tokens])
                for trigger in triggers:
                    cursor.execute(
                        sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}")
                        .format(sql.Identifier(table), sql.Identifier(trigger))
                        .as_string(raw)
                    )
            result.rotated += len(ids)
        if len(rows) < batch_size:
            return


def _rotated(token: str, primary: Fernet, every_key: MultiFernet) -> tuple[str, str | None]:
    """("current", None), ("unreadable", None) when no key decrypts it, or ("rotated", token)."""
    data = token.encode()
    try:
        primary.decrypt(data)
        return "current", None
    except InvalidToken:
        pass
    try:
        clear = every_key.decrypt(data)
    except InvalidToken:
        return "unreadable", None
    new = every_key.rotate(data)
    if primary.decrypt(new) != clear:  # cannot happen; never write what we did not check
        raise RuntimeError("a re-encrypted value did not read back")
    return "rotated", new.decode()


def _audit(report: RotationReport, actor: str, *, action: str) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=action,
            object_type="encrypted_fields",
            data={
                "dry_run": report.dry_run,
                "fields": {
                    f.label: {
                        "rotated": f.rotated,
                        "current": f.current,
                        "unreadable": len(f.unreadable_ids),
                    }
                    for f in report.fields
                },
            },
        )
