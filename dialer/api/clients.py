"""API clients: a token is shown once and only its SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets

from django.db import connection, transaction

from audit.services import audit_record
from campaigns.models import Program
from common.rows import columns, instance, width
from dialer.models import ApiClient, ApiRole


def _token_hash(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain hash cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def api_client_create(
    *, program: Program, name: str, role: str = ApiRole.CRM, actor: str
) -> tuple[ApiClient, str]:
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        client = ApiClient.objects.create(
            program=program,
            name=name,
            role=ApiRole(role),
            token_hash=_token_hash(token),
            token_prefix=token[:8],
        )
        audit_record(
            actor=actor,
            action="api_client.created",
            object_type="api_client",
            object_id=client.pk,
            program_id=program.pk,
            data={"role": role},
        )
    return client, token


def api_client_for_token(token: str) -> ApiClient | None:
    """The active client holding this token, with its program (active or not).

    A client of an inactive program is still known: it may still send opt-outs
    and revocations (dialer.api.auth.IsApiClient refuses the rest).
    Read on every API request, so in plain SQL (one indexed row, no queryset to compile).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(ApiClient, 'c')}, {columns(Program, 'p')}"  # noqa: S608 (model columns)
            " FROM dialer_apiclient c JOIN campaigns_program p ON p.id = c.program_id"
            " WHERE c.token_hash = %s AND c.active",
            [_token_hash(token)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    client = instance(ApiClient, row[: width(ApiClient)])
    client.program = instance(Program, row[width(ApiClient) :])
    return client
