"""Filters (django-filter) that refuse what they cannot read, instead of ignoring it.

django-filter treats `?status=` or `?active=maybe` as "no filter", and skips
a parameter it does not know (`?stauts=done`): both answer more rows than
the client asked for. Here a filter given with no value, several values, or
a value of the wrong kind, and a parameter that is neither a filter nor
`limit`/`offset`, answer 400 naming it.
"""

from __future__ import annotations

import re
from typing import Any

from django_filters import rest_framework as filters

BOOLEAN_VALUES = frozenset({"true", "false"})
PAGINATION_PARAMETERS = frozenset({"limit", "offset"})
# An unknown parameter is named in the error only when it looks like a name: the
# error must not echo arbitrary input (it could be a number or a name).
_PLAIN_NAME = re.compile(r"[a-z_]{1,40}")


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
        for name in self.data:
            if name not in self.filters and name not in PAGINATION_PARAMETERS:
                known = ", ".join(sorted({*self.filters, *PAGINATION_PARAMETERS}))
                key = name if _PLAIN_NAME.fullmatch(name) else "query"
                self._refuse(key, f"Unknown parameter; this list reads {known}.")
                valid = False
        return valid

    def _refuse(self, name: str, message: str) -> None:
        errors: Any = self.form.errors
        errors[name] = self.form.error_class([message])
