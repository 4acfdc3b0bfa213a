"""The Celery application: tasks are thin entry points into services."""

from __future__ import annotations

import os
from typing import Any, cast

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")


class _App(Celery):
    def prepare_config(self, c: Any) -> Any:
        """The CELERY_ settings as a plain dict, read once when the app is configured.

        Celery looks its settings up on every publish (seven lookups for a callback's
        dispatch), and through Django's lazy settings object each one is a chain of
        failed attribute lookups: about a fifth of a publish's CPU. What is changed later
        goes through `app.conf`, as Celery documents (tests do so for the broker).
        """
        from django.conf import settings

        snapshot = {
            name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")
        }
        return super().prepare_config(cast(Any, snapshot))  # any mapping, as Celery reads it


app = _App("callorch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
