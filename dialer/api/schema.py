"""OpenAPI: every operation documents the error answers, in the one error shape."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
        }
    },
}

ERRORS = {
    "400": "Bad input: the fields named are wrong; nothing changed.",
    "401": "Missing or wrong token.",
    "403": "This client's role may not do this.",
    "404": "No such object in this program.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict: the object exists, or the Idempotency-Key was used with another body.",
    "415": "Unsupported media type.",
    "429": "Too many requests for this client.",
    "500": "Server error; code `unreadable_value`: stored data that no configured key decrypts.",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result
