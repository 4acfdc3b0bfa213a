"""Fixtures of the seams' tests: the API clients' tokens of tests.api."""

from __future__ import annotations

from tests.api.conftest import tokens

__all__ = ["tokens"]
