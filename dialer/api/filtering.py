"""Filters (django-filter) that refuse what they cannot read, instead of ignoring it.

django-filter treats `?status=` or `?active=maybe` as "no filter", which
answers more rows than the client asked for. Here a filter given with no
value, several values, or a value of the wrong kind answers 400 naming it.
"""

from __future__ import annotations

from typing import Any

from django_filters import rest_framework as filters

BOOLEAN_VALUES = frozenset({"true", "false"})


class StrictFilterSet(filters.FilterSet):
    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        for name, filter_ in self.filters.items():
            if name not in self.data:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if len(values) != 1 or not values[0]:
                self._refuse(name, "Give one value.")
                valid = False
            elif isinstance(filter_, filters.BooleanFilter) and values[0] not in BOOLEAN_VALUES:
                self._refuse(name, "Use true or false.")
                valid = False
        return valid

    def _refuse(self, name: str, message: str) -> None:
        errors: Any = self.form.errors
        errors[name] = self.form.error_class([message])
