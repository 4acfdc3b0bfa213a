"""Token authentication for API clients; a client acts for exactly one program."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from audit.actors import actor_for_api_client
from campaigns.models import Program
from dialer.api.clients import api_client_for_token
from dialer.models import ApiClient, ApiRole


@dataclass
class ApiPrincipal:
    """What `request.user` is for API calls: the client, its program and its role."""

    client: ApiClient

    is_authenticated = True
    is_anonymous = False

    @property
    def program(self) -> Program:
        return self.client.program

    @property
    def actor(self) -> str:
        return actor_for_api_client(cast(Any, self.client))

    @property
    def is_manager(self) -> bool:
        return self.client.role == ApiRole.MANAGER

    @property
    def pk(self) -> int:
        return self.client.pk


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, str] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Token <token>'.")
        client = api_client_for_token(parts[1])
        if client is None:
            raise exceptions.AuthenticationFailed("Unknown or inactive token.")
        return ApiPrincipal(client), parts[1]

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "dialer.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` from `manage.py create_api_client`.",
        }


INACTIVE_PROGRAM = "This client's program is inactive: only opt-outs and revocations are taken."


def _program_open(request: Request, view: Any) -> bool:
    """An inactive program's client is refused, except by the views that take an
    opt-out or a revocation (`accepts_inactive_program`): those are never lost."""
    user = request.user
    return isinstance(user, ApiPrincipal) and (
        user.program.active or getattr(view, "accepts_inactive_program", False)
    )


class IsApiClient(permissions.BasePermission):
    message = INACTIVE_PROGRAM

    def has_permission(self, request: Request, view: Any) -> bool:
        return _program_open(request, view)


class IsManager(permissions.BasePermission):
    message = "This endpoint needs a client with the manager role."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not _program_open(request, view):
            self.message = INACTIVE_PROGRAM
            return False
        return isinstance(request.user, ApiPrincipal) and request.user.is_manager


def principal(request: Request) -> ApiPrincipal:
    user = request.user
    assert isinstance(user, ApiPrincipal)
    return user
