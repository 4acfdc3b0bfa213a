"""Schemathesis against the schema the server publishes, in-process through WSGI.

Every operation of /api/v1/ gets generated requests, valid and invalid
(bounded: at most MAX_EXAMPLES fuzzed examples each, plus schemathesis'
explicit and boundary cases), sent with a manager's token. No answer may be
a server error, and every answer must match the schema: status code, content
type, headers and body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi import checks as openapi_checks

MAX_EXAMPLES = 25

CHECKS_RUN = [
    CHECKS.get_one("not_a_server_error"),
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]
# Not run: positive_data_acceptance. A request can match the schema and still be
# refused with 400 for what a schema cannot say (an unknown queue or contact,
# a number that is not dialable, window_end before window_start).


def _live_schema() -> Any:
    """The schema as /api/schema/ serves it (no database needed to build it)."""
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    loaded.config.generation.update(max_examples=MAX_EXAMPLES)
    return loaded.include(path_regex=r"^/api/v1/")


schema = _live_schema()


@pytest.fixture
def keep_the_test_connection() -> Iterator[None]:
    """Requests run inside the test's transaction: as in Django's test client,
    the end of a request must not close the database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_its_schema(
    case: Any, tokens: dict[str, str], keep_the_test_connection: None
) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {tokens['manager_a']}"}, checks=CHECKS_RUN
    )
