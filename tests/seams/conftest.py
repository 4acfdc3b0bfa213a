"""Fixtures of the seams' tests: the API clients' tokens of tests.api, the local fake of
Twilio's REST API, and Twilio settings pointing at it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import tokens
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, CALLER_ID, PUBLIC_URL, FakeTwilio
from tests.telephony.conftest import fake_twilio as fake_twilio  # a fixture, re-exported


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> Any:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    settings.TELEPHONY_PUBLIC_URL = PUBLIC_URL
    settings.TELEPHONY_RING_SECONDS = 25
    return settings


__all__ = ["CALLER_ID", "fake_twilio", "tokens", "twilio_settings"]
