"""Send the marketing models to the `marketing` alias, whose role may read only the view."""

from __future__ import annotations

from typing import Any

MARKETING_DB = "marketing"
# Models that live in the marketing view; every read of them goes through the role.
MARKETING_MODELS = frozenset({"reports.marketingcall"})


class MarketingRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return MARKETING_DB if model._meta.label_lower in MARKETING_MODELS else None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        # The role has SELECT only: a write is refused by PostgreSQL itself.
        return MARKETING_DB if model._meta.label_lower in MARKETING_MODELS else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        # Nothing is ever migrated as the marketing role.
        return False if db == MARKETING_DB else None
