"""Model instances from plain SQL rows, for the few reads on a request's hot path.

Compiling a queryset costs about a millisecond of CPU per read here; running
the same SELECT as plain SQL costs a tenth of that. `columns` names a model's
columns for a SELECT, and `instance` builds the model from its slice of the
row as the ORM would: field converters applied (arrays, JSON, encrypted text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@cache
def _fields(
    model: type[models.Model],
) -> tuple[list[str], tuple[Callable[..., Any] | None, ...]]:
    """Attribute names and converters of the concrete fields, in column order."""
    fields = model._meta.concrete_fields
    return (
        [field.attname for field in fields],
        tuple(getattr(field, "from_db_value", None) for field in fields),
    )


@cache
def columns(model: type[models.Model], alias: str) -> str:
    """`alias."col1", alias."col2", ...` in the order `instance` reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def width(model: type[models.Model]) -> int:
    return len(_fields(model)[0])


def instance(model: type[M], values: Sequence[Any]) -> M:
    """The model from a row's values for `columns(model, ...)`, as a query would give it."""
    names, converters = _fields(model)
    converted = [
        convert(value, None, connection) if convert is not None else value
        for convert, value in zip(converters, values, strict=True)
    ]
    return model.from_db(connection.alias, names, converted)
