"""How an actor is named in the trail: an id, never a name."""

from __future__ import annotations

from typing import Any, Protocol


class _HasPk(Protocol):
    @property
    def pk(self) -> Any: ...


def actor_for_user(user: _HasPk | Any) -> str:
    return f"user:{user.pk}"


def actor_for_api_client(client: _HasPk) -> str:
    return f"api:{client.pk}"


def actor_system(name: str) -> str:
    return f"system:{name}"
