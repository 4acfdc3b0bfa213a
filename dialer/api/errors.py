"""One error shape for the whole API: {"error": {"code", "message", "fields"}}.

Messages never echo a phone number or a name: field errors name the field and
say what is wrong with it, nothing more.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from common.fields import UnreadableValue


class ApiError(exceptions.APIException):
    """An application error with a stable code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int = 400,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = http_status
        self.error_code = code
        self.fields = fields or {}

    @classmethod
    def for_field(cls, field: str, message: str, *, http_status: int = 400) -> ApiError:
        """Bad (400) or conflicting (409) input, naming the one field."""
        code = "conflict" if http_status == 409 else "invalid"
        text = "Conflict" if http_status == 409 else "Invalid input"
        return cls(code, f"{text}: {field}.", http_status=http_status, fields={field: [message]})

    @classmethod
    def not_found(cls) -> ApiError:
        """Unknown here: another program's object is answered exactly like a missing one."""
        return cls("not_found", "Not found.", http_status=404)


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return [str(d) for d in detail]
        return [_flatten(d) for d in detail]
    return [str(detail)]


CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, UnreadableValue):
        # Stored data no key decrypts (a key rotated without its fallback): say so,
        # naming the field; the stored token is never shown as if it were the value.
        exc = ApiError("unreadable_value", f"Cannot be read: {exc}.", http_status=500)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "message_dict") else {}
        exc = exceptions.ValidationError(fields or {"non_field_errors": exc.messages})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = {"code": exc.error_code, "message": str(exc.detail), "fields": exc.fields}
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        names = ", ".join(sorted(fields))
        body = {"code": "invalid", "message": f"Invalid input: {names}.", "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = {
            "code": CODES.get(response.status_code, "error"),
            "message": str(detail),
            "fields": {},
        }
    response.data = {"error": body}
    return response
