"""No phone number or name in a log line or an error answer, whatever the API is asked.

Every log record of the process is captured at DEBUG (root, django,
django.request, django.server, granian's loggers) during a series of calls
that fail in every way (400, 404 on /dnc/{number}/, 409), plus a runserver
and a granian access line for a /dnc/ URL; none may hold a number or a
name used. Error bodies may not either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from tests.api.conftest import get, post
from tests.conftest import Portfolio

FIRST, LAST = "Marguerite", "Quinlan"
# (as typed, the forms it may take in a line)
NUMBERS = {
    "(305) 555-0177": ("3055550177", "555-0177", "5550177", "555 0177"),
    "305.555.0178": ("3055550178", "555-0178", "5550178", "555.0178"),
    "305-55-01": ("305-55-01", "3055501"),  # not a number, but still the caller's digits
}
LOGGERS = ("", "django", "django.request", "django.server", "_granian", "granian.access")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(message)s")
        return [formatter.format(r) + repr(getattr(r, "args", "")) for r in self.records]


@pytest.fixture
def captured() -> Iterator[Capture]:
    capture = Capture()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)


def leaks(text: str) -> list[str]:
    found = [name for name in (FIRST, LAST) if name in text]
    for typed, forms in NUMBERS.items():
        found += [form for form in (typed, *forms) if form in text]
    return found


def _calls(portfolio: Portfolio, tokens: dict[str, str]) -> list[Any]:
    crm_a, crm_b = tokens["crm_a"], tokens["crm_b"]
    contact = {
        "external_id": "PHI-1",
        "first_name": FIRST,
        "last_name": LAST,
        "phones": [{"number": "(305) 555-0177", "provided_by_patient": True}],
        "state": "FL",
    }
    created = post(crm_a, "contacts/", contact)
    assert created.status_code == 201
    contact_id = created.json()["id"]
    other = {**contact, "phones": [{"number": "305.555.0178"}]}
    answers = [
        post(
            crm_a,
            "contacts/",
            {**contact, "external_id": "PHI-2", "phones": [{"number": "305-55-01"}]},
        ),
        post(crm_a, "contacts/", other),  # 409: the external id is taken
        get(crm_b, f"contacts/{contact_id}/"),  # 404: another program's
        get(crm_a, "dnc/305-55-01/"),  # 400, the digits in the URL
        get(crm_a, f"dnc/{quote('(305) 555-0177')}/"),
        get(crm_a, "dnc/3055550178"),  # 404: no trailing slash
        get(crm_a, "nothing/3055550177/"),  # 404: no such endpoint
        get(None, "dnc/3055550177/"),  # 401
        post(crm_a, "callbacks/", {"phone": "305.555.0178"}, HTTP_IDEMPOTENCY_KEY="phi"),
        post(crm_a, "callbacks/", {"phone": "(305) 555-0177"}, HTTP_IDEMPOTENCY_KEY="phi"),  # 409
        post(crm_b, "callbacks/", {"contact": contact_id}),  # 400: unknown contact
        post(crm_a, "eligibility/", {"queue": "nope", "phone": "305-55-01"}),
        post(
            crm_a,
            "consents/",
            {
                "contact": contact_id,
                "kind": "part2",
                "signed_at": (timezone.now() - timedelta(days=1)).isoformat(),
                "signature": f"/s/ {FIRST} {LAST}",
                "recipients": [f"{FIRST} {LAST}"],
            },
        ),
        post(crm_a, "dnc/", {"number": "305-55-01", "note": f"{FIRST} asked"}),
        post(crm_a, "attempts/", {"contact": contact_id, "number": "305-55-01"}),
    ]
    return answers


@pytest.mark.django_db
def test_no_number_or_name_reaches_a_log_line_or_an_error(
    portfolio: Portfolio, tokens: dict[str, str], captured: Capture
) -> None:
    answers = _calls(portfolio, tokens)
    assert {a.status_code for a in answers} >= {400, 401, 404, 409}
    for answer in answers:
        if answer.status_code >= 400:
            assert not leaks(answer.content.decode()), answer.content

    # What runserver logs for a request line, and what granian's access log does.
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /api/v1/dnc/%28305%29%20555-0177/ HTTP/1.1", "200", "57"
    )
    _granian_access_line("/api/v1/dnc/3055550178/")

    lines = captured.lines()
    assert sum("Bad Request: /api/v1/dnc/[redacted]/" in line for line in lines) >= 1
    assert any("Not Found: /api/v1/dnc/[redacted]" in line for line in lines)
    assert any(
        line.startswith("granian.access") and "/api/v1/dnc/[redacted]/" in line for line in lines
    )
    for line in lines:
        assert not leaks(line), line


def _granian_access_line(path: str) -> None:
    """Log one request through granian's own access logger, as a worker does."""
    from granian import log as granian_log

    request = {
        "addr_remote": "127.0.0.1",
        "path": path,
        "qs": "",
        "method": "GET",
        "scheme": "http",
        "protocol": "HTTP/1.1",
    }
    builder: Any = granian_log.log_request_builder  # untyped
    builder(granian_log.DEFAULT_ACCESSLOG_FMT)(time.time(), time.perf_counter(), request, 200)
