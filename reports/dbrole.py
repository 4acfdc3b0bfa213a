"""The `marketing` database role: it may log in and read the marketing view, nothing else.

Created by reports' migration when the migrating user may create roles (a
superuser, or CREATEROLE), and by `manage.py marketing_role` at any later time
(after a password change, or once a DBA has created the role). A user that may
not create roles leaves the role missing, says so, and the dashboard refuses to
run (it never falls back to the default connection).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from psycopg import sql

from reports.models import MARKETING_VIEW
from reports.routers import MARKETING_DB

# Per-role settings: read-only sessions, and no query runs for ever.
ROLE_SETTINGS = {"default_transaction_read_only": "on", "statement_timeout": "60s"}
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"


class UnsafeMarketingRole(Exception):
    """The role exists with powers that would let it read more than the view."""


@dataclass(frozen=True)
class RoleSync:
    role: str
    status: str  # created | updated | grants_only | missing
    message: str

    @property
    def usable(self) -> bool:
        return self.status != "missing"


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier, so that the clear password never reaches the server's logs."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def marketing_role_name() -> str:
    return str(settings.DATABASES[MARKETING_DB]["USER"])


def marketing_role_sync(*, using: str = "default") -> RoleSync:
    """Create or update the role, then grant it SELECT on the view and nothing else.

    1. If the role is missing: create it (LOGIN, no other power) when the current
       user may create roles; otherwise answer `missing` with what to do.
    2. If it exists and we may manage roles: reset its attributes and password.
    3. Revoke every privilege on the tables, sequences and schema, grant USAGE
       on the schema and SELECT on the marketing view.
    4. Refuse (UnsafeMarketingRole) a role that is a superuser, bypasses row
       security or belongs to another role: it could read more than the view.
    """
    role = marketing_role_name()
    password = str(settings.DATABASES[MARKETING_DB]["PASSWORD"])
    connection = connections[using]
    with connection.cursor() as cursor:
        raw = cursor.cursor.connection  # the psycopg connection, to render SQL safely

        def run(statement: sql.Composable) -> None:
            cursor.execute(statement.as_string(raw))

        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        may_manage = bool(cursor.fetchone()[0])
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        exists = cursor.fetchone() is not None
        ident = sql.Identifier(role)
        verifier = sql.Literal(scram_verifier(password))
        if not exists and not may_manage:
            return RoleSync(
                role,
                "missing",
                f"The database user may not create roles, so the role {role!r} was not created:"
                " marketing reports are disabled. Have a superuser create it"
                f" (CREATE ROLE {role} LOGIN PASSWORD '...') and run `manage.py marketing_role`.",
            )
        if not exists:
            run(
                sql.SQL("CREATE ROLE {} " + ROLE_ATTRIBUTES + " PASSWORD {}").format(
                    ident, verifier
                )
            )
            status = "created"
        elif may_manage:
            run(
                sql.SQL("ALTER ROLE {} " + ROLE_ATTRIBUTES + " PASSWORD {}").format(ident, verifier)
            )
            status = "updated"
        else:
            status = "grants_only"
        if may_manage:
            for name, value in ROLE_SETTINGS.items():
                run(
                    sql.SQL("ALTER ROLE {} SET {} = {}").format(
                        ident, sql.Identifier(name), sql.Literal(value)
                    )
                )
        cursor.execute("SELECT current_schema()")
        schema = sql.Identifier(cursor.fetchone()[0])
        run(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, ident))
        run(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(schema, ident))
        run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
        run(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(MARKETING_VIEW), ident))
        _check_safe(cursor, role)
    return RoleSync(role, status, f"Role {role!r} {status}: it may read {MARKETING_VIEW} only.")


def _check_safe(cursor: Any, role: str) -> None:
    cursor.execute(
        """
        SELECT r.rolsuper, r.rolbypassrls,
               EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid)
        FROM pg_roles r WHERE r.rolname = %s
        """,
        [role],
    )
    superuser, bypassrls, member = cursor.fetchone()
    if superuser or bypassrls or member:
        raise UnsafeMarketingRole(
            f"The role {role!r} is a superuser, bypasses row security or is a member of"
            " another role: it could read more than the marketing view. Fix it as a superuser"
            " (ALTER ROLE ... NOSUPERUSER NOBYPASSRLS; REVOKE ... FROM it) and run"
            " `manage.py marketing_role`."
        )


def marketing_role_available() -> str | None:
    """None when the marketing alias can connect and read the view; otherwise why not."""
    from django.db import DatabaseError

    try:
        with connections[MARKETING_DB].cursor() as cursor:
            cursor.execute("SELECT 1 FROM reports_marketing_call LIMIT 0")
    except DatabaseError as exc:
        connections[MARKETING_DB].close()
        return f"the marketing database role cannot read the marketing view ({type(exc).__name__})"
    return None
