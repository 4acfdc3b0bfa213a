"""Model instances from plain SQL rows, for the few reads on a request's hot path.

Compiling a queryset costs about a millisecond of CPU per read here; running
the same SELECT as plain SQL costs a tenth of that. `columns` names a model's
columns for a SELECT, and `instance` builds the model from its slice of the
row as the ORM would: field converters applied (arrays, JSON, encrypted text).
Fields left out (`skip`) are deferred, as with `QuerySet.defer`: not read, not
decrypted, and not written back by a later `save()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@cache
def _loaded(model: type[models.Model], skip: tuple[str, ...]) -> list[Any]:
    """The concrete fields read, in column order (all but those named in `skip`)."""
    return [field for field in model._meta.concrete_fields if field.name not in skip]


@cache
def _fields(
    model: type[models.Model], skip: tuple[str, ...] = ()
) -> tuple[list[str], tuple[Callable[..., Any] | None, ...]]:
    """Attribute names and converters of the fields read, in column order."""
    fields = _loaded(model, skip)
    return (
        [field.attname for field in fields],
        tuple(getattr(field, "from_db_value", None) for field in fields),
    )


@cache
def columns(model: type[models.Model], alias: str, skip: tuple[str, ...] = ()) -> str:
    """`alias."col1", alias."col2", ...` in the order `instance` reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in _loaded(model, skip))


def width(model: type[models.Model], skip: tuple[str, ...] = ()) -> int:
    return len(_fields(model, skip)[0])


def instance(model: type[M], values: Sequence[Any], skip: tuple[str, ...] = ()) -> M:
    """The model from a row's values for `columns(model, ..., skip)`, as a query would
    give it; the fields in `skip` are deferred."""
    names, converters = _fields(model, skip)
    converted = [
        convert(value, None, connection) if convert is not None else value
        for convert, value in zip(converters, values, strict=True)
    ]
    return model.from_db(connection.alias, names, converted)


@cache
def _insert_sql(model: type[models.Model]) -> tuple[str, tuple[Any, ...]]:
    meta = model._meta
    fields = tuple(field for field in meta.concrete_fields if field is not meta.pk)
    names = ", ".join(f'"{field.column}"' for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f'INSERT INTO "{meta.db_table}" ({names}) VALUES ({marks}) RETURNING "{meta.pk.column}"'  # noqa: S608 (model columns)
    return sql, fields


def insert_many(objs: Sequence[M]) -> None:
    """INSERT new rows for `objs` with one statement, as `insert` does for one; their ids
    are set, and taken in list order."""
    if not objs:
        return
    sql, fields = _insert_sql(type(objs[0]))
    head, _, tail = sql.partition(" VALUES ")
    marks, _, returning = tail.partition(" RETURNING ")
    many = f"{head} VALUES {', '.join([marks] * len(objs))} RETURNING {returning}"
    with connection.cursor() as cursor:
        cursor.execute(many, [value for obj in objs for value in _values(obj, fields)])
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        _saved(obj, pk)


def insert_with(parent: models.Model, children: Sequence[M], *, link: str) -> None:
    """INSERT `parent` and its new `children` (their foreign key `link` names it) in one
    statement, as `insert` and `insert_many` would in two; every id is set. The
    children's key is the parent's new id, read inside the statement."""
    if not children:
        insert(parent)
        return
    parent_sql, parent_fields = _insert_sql(type(parent))
    sql, fields = _insert_sql(type(children[0]))
    key = type(children[0])._meta.get_field(link)
    assert isinstance(key, models.ForeignKey)
    head, _, tail = sql.partition(" VALUES ")
    _, _, returning = tail.partition(" RETURNING ")
    parent_id = f'(SELECT "{parent._meta.pk.column}" FROM parent)'  # noqa: S608 (model columns)
    row = "(" + ", ".join(parent_id if field is key else "%s" for field in fields) + ")"
    many = (
        f"WITH parent AS ({parent_sql}) {head} VALUES {', '.join([row] * len(children))}"
        f' RETURNING {returning}, "{key.column}"'
    )
    params = _values(parent, parent_fields)
    own = tuple(field for field in fields if field is not key)
    for child in children:
        params.extend(_values(child, own))
    with connection.cursor() as cursor:
        cursor.execute(many, params)
        rows = cursor.fetchall()
    _saved(parent, rows[0][1])
    for child, (pk, _) in zip(children, rows, strict=True):
        _saved(child, pk)
        setattr(child, link, parent)


def insert(obj: M, *, on_conflict: str = "") -> M | None:
    """INSERT a new row for `obj` in plain SQL, as `save()` would (each field's `pre_save`,
    so `auto_now_add` and the like; values prepared by the fields: JSON, encryption), and
    set its id. For models without their own `save()` or save signals, on hot paths:
    compiling the ORM's INSERT costs more CPU than PostgreSQL spends on it.

    `on_conflict` (a constant `ON CONFLICT ... DO NOTHING` clause): None when a row in
    the way kept this one out, instead of an IntegrityError and a savepoint to undo it.
    """
    sql, fields = _insert_sql(type(obj))
    if on_conflict:
        sql = sql.replace(" RETURNING ", f" {on_conflict} RETURNING ", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(obj, fields))
        row = cursor.fetchone()
    if row is None:
        return None
    _saved(obj, row[0])
    return obj


def _values(obj: models.Model, fields: tuple[Any, ...]) -> list[Any]:
    """The row's values as `save()` would send them (each field's `pre_save`, then its
    preparation for the database: JSON, encryption)."""
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def _saved(obj: models.Model, pk: Any) -> None:
    """Mark `obj` as the saved row `pk`, as `save()` leaves it."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
