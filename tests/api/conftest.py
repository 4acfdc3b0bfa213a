"""API test client: every response is checked against the OpenAPI schema the server publishes."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

import pytest
from django.http import HttpResponse
from django.test import Client
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.templating.paths.exceptions import PathNotFound

from audit.actors import actor_system
from dialer.api.clients import api_client_create
from tests.conftest import Portfolio


@cache
def _openapi() -> OpenAPI:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
    return OpenAPI.from_dict(schema)


class SchemaClient(Client):
    """A test client whose every API answer must match the published schema."""

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        if response.wsgi_request.path.startswith("/api/v1/"):
            try:
                _openapi().validate_response(
                    DjangoOpenAPIRequest(response.wsgi_request),
                    DjangoOpenAPIResponse(cast(HttpResponse, response)),
                )
            except PathNotFound:
                # No such endpoint: a 404 in the one error shape.
                assert response.status_code == 404, response.status_code
                assert response.json()["error"]["code"] == "not_found"
        return response


def api_client(token: str | None) -> SchemaClient:
    return SchemaClient(headers={"Authorization": f"Token {token}"} if token else None)


@pytest.fixture
def tokens(portfolio: Portfolio) -> dict[str, str]:
    system = actor_system("tests")
    _, crm_a = api_client_create(program=portfolio.program_a, name="crm-a", actor=system)
    _, manager_a = api_client_create(
        program=portfolio.program_a, name="mgr-a", role="manager", actor=system
    )
    _, crm_b = api_client_create(program=portfolio.program_b, name="crm-b", actor=system)
    return {"crm_a": crm_a, "manager_a": manager_a, "crm_b": crm_b}


JSON = "application/json"


def post(token: str | None, path: str, body: Any, **extra: Any) -> Any:
    return api_client(token).post(f"/api/v1/{path}", body, content_type=JSON, **extra)


def get(token: str | None, path: str) -> Any:
    return api_client(token).get(f"/api/v1/{path}")


def error_fields(response: Any) -> set[str]:
    """The fields a 4xx answer names, after checking the one error shape."""
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    return set(body["error"]["fields"])
