"""An API request with a token skips the staff side's middleware; every other request,
API or not, goes through it (session, sign-in, second factor, messages, idle logoff)."""

from __future__ import annotations

import pytest

from tests.api.conftest import get


@pytest.mark.django_db
def test_it_answers_a_token_request_without_a_session(tokens: dict[str, str]) -> None:
    response = get(tokens["crm_a"], "queues/")
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_it_keeps_the_staff_side_for_a_request_without_a_token() -> None:
    response = get(None, "queues/")
    assert response.status_code == 401
    assert hasattr(response.wsgi_request, "session")
    assert hasattr(response.wsgi_request, "_messages")
