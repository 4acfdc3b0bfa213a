"""Encrypted model fields that refuse to answer what they cannot decrypt.

django-fernet-encrypted-fields hands back the stored token itself when no key
decrypts it (a `SECRET_KEY` changed without its fallback, a key dropped too
early): a ciphertext then passes for a phone number or a name, and a check
that compares it finds nothing. Here a value read from the database either
decrypts or raises `UnreadableValue`, which names the field and never the
value. Readers that decide about calls read the token (`token_of`) and turn an
unreadable one into "unknown" themselves (`decrypted_or_none`), so one bad row
blocks its own call and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken
from django.db import models
from django.db.models.functions import Cast
from encrypted_fields import fields


class UnreadableValue(Exception):
    """A stored value that no configured key decrypts; the message names the field only."""


class StrictDecryption(fields.EncryptedFieldMixin):
    """Decrypt on every read from the database, or raise; writing is the library's."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self.decrypt(value)

    def decrypt(self, token: str) -> str:
        """The clear text of a stored token; UnreadableValue when no key decrypts it."""
        try:
            return self.f.decrypt(token.encode("utf-8")).decode("utf-8")
        except (InvalidToken, UnicodeError, TypeError, AttributeError):
            raise UnreadableValue(
                f"{self.label()}: no configured key decrypts the stored value"
            ) from None

    def decrypted_or_none(self, token: str | None) -> str | None:
        """The clear text, or None for a missing or unreadable value (the caller fails closed)."""
        if not token:
            return None
        try:
            return self.decrypt(token)
        except UnreadableValue:
            return None

    def label(self) -> str:
        model = getattr(self, "model", None)
        name = getattr(self, "name", None) or "field"
        return f"{model._meta.label}.{name}" if model is not None else name


# Django's own base is named as well, for type checkers: the library has no
# annotations, and its values were typed Any; they stay so.
if TYPE_CHECKING:
    _Char = models.CharField[Any, Any]
    _Text = models.TextField[Any, Any]
else:
    _Char, _Text = models.CharField, models.TextField


class EncryptedCharField(StrictDecryption, fields.EncryptedCharField, _Char):
    pass


class EncryptedTextField(StrictDecryption, fields.EncryptedTextField, _Text):
    pass


def token_of(path: str) -> Cast:
    """The stored token of an encrypted column (no decryption), for `values()`/`annotate()`."""
    return Cast(path, output_field=models.TextField())


def field_of(model: type[models.Model], name: str) -> StrictDecryption:
    found = model._meta.get_field(name)
    if not isinstance(found, StrictDecryption):
        raise TypeError(f"{model._meta.label}.{name} is not a strictly decrypted field")
    return found
