"""The RND provider client against a local fake of its wire format (dnc/rnd/provider.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from audit.actors import actor_system
from audit.models import AuditEvent
from common.crypto import keyed_hash
from dnc.models import RndAnswer
from dnc.rnd.provider import (
    HttpRndProvider,
    RndAgreement,
    RndNotAllowed,
    RndProviderError,
    RndQuery,
    rnd_answers_request,
    rnd_provider_configured,
)
from dnc.rnd.selectors import rnd_answers_many

pytestmark = pytest.mark.django_db

KEY = "rnd-test-key-0123456789"
SYSTEM = actor_system("tests")
SIGNED = RndAgreement(program_id=1, baa_signed_on=date(2026, 1, 5), qso_signed_on=date(2026, 1, 5))
ASKED = date(2024, 3, 1)


@dataclass
class FakeRnd:
    """What the fake provider saw, and how it behaves: its limit, its key, a delay."""

    limit: int = 3
    delay: float = 0.0
    disconnected: set[str] = field(default_factory=set)  # ten-digit numbers answering yes
    batches: list[list[dict[str, str]]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake() -> Iterator[FakeRnd]:
    state = FakeRnd()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # no request lines (numbers) on stderr
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/queries":
                return self._send(404, {})
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self._send(401, {"error": "invalid key"})
            queries = body["queries"]
            if len(queries) > state.limit:
                return self._send(413, {"error": "too many queries"})
            state.batches.append(queries)
            time.sleep(state.delay)
            results = [
                {"id": q["id"], "result": "yes" if q["tn"] in state.disconnected else "no"}
                for q in queries
            ]
            self._send(200, {"results": results})

        def _send(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _client(fake: FakeRnd, *, key: str = KEY, timeout: float = 5) -> HttpRndProvider:
    return HttpRndProvider(base_url=fake.url, api_key=key, batch_limit=fake.limit, timeout=timeout)


def _queries(count: int) -> list[RndQuery]:
    return [RndQuery(f"+1212555{i:04d}", ASKED) for i in range(count)]


def test_it_asks_in_batches_up_to_the_limit_and_records_the_answers(fake: FakeRnd) -> None:
    fake.disconnected = {"2125550003"}
    queries = _queries(7)
    asked = rnd_answers_request(
        provider=_client(fake), agreement=SIGNED, queries=queries + queries[:2], actor=SYSTEM
    )
    assert (asked.asked, asked.batches) == (7, 3)
    assert [len(b) for b in fake.batches] == [3, 3, 1]
    assert fake.batches[0][0] == {"id": "0", "tn": "2125550000", "date": "2024-03-01"}
    found = rnd_answers_many(numbers=[q.number for q in queries])
    assert {n: a[0].result for n, a in found.items()} == {
        q.number: ("yes" if q.number == "+12125550003" else "no") for q in queries
    }
    answer = RndAnswer.objects.get(number_hash=keyed_hash("+12125550003"))
    assert answer.source == "provider:http"
    assert timezone.now() - answer.queried_at < timedelta(minutes=1)
    events = AuditEvent.objects.filter(action="dnc.rnd_queried")
    assert [e.data["numbers"] for e in events.order_by("id")] == [3, 3, 1]
    assert "555" not in json.dumps([e.data for e in events])


def test_a_refused_key_records_nothing(fake: FakeRnd) -> None:
    with pytest.raises(RndProviderError, match=r"refused the key \(401\)"):
        rnd_answers_request(
            provider=_client(fake, key="wrong-key-0123456789"),
            agreement=SIGNED,
            queries=_queries(2),
            actor=SYSTEM,
        )
    assert not RndAnswer.objects.exists()


def test_a_timeout_is_no_answer(fake: FakeRnd) -> None:
    """No answer is recorded: a reactivation relying on an old consent stays refused."""
    fake.delay = 1.0
    with pytest.raises(RndProviderError) as failed:
        rnd_answers_request(
            provider=_client(fake, timeout=0.2), agreement=SIGNED, queries=_queries(2), actor=SYSTEM
        )
    assert "555" not in str(failed.value)
    assert not RndAnswer.objects.exists()


def test_an_over_long_batch_is_refused_by_the_provider_and_never_sent_by_the_client(
    fake: FakeRnd,
) -> None:
    generous = HttpRndProvider(base_url=fake.url, api_key=KEY, batch_limit=10, timeout=5)
    with pytest.raises(RndProviderError, match="413"):
        generous.query(_queries(4))
    with pytest.raises(ValueError, match="at most 3"):
        _client(fake).query(_queries(4))


@pytest.mark.parametrize(
    ("baa", "qso", "missing"),
    [
        (None, date(2026, 1, 5), "business associate agreement"),
        (date(2026, 1, 5), None, "qualified service organization agreement"),
        (None, None, "business associate agreement and no Part 2"),
    ],
)
def test_no_query_leaves_without_both_agreements(
    fake: FakeRnd, baa: date | None, qso: date | None, missing: str
) -> None:
    agreement = RndAgreement(program_id=1, baa_signed_on=baa, qso_signed_on=qso)
    with pytest.raises(RndNotAllowed, match=missing):
        rnd_answers_request(
            provider=_client(fake), agreement=agreement, queries=_queries(2), actor=SYSTEM
        )
    assert fake.batches == []
    assert not RndAnswer.objects.exists()


def test_the_provider_is_configured_from_settings(settings: Any, fake: FakeRnd) -> None:
    settings.RND_PROVIDER_URL = ""
    assert rnd_provider_configured() is None
    settings.RND_PROVIDER_URL, settings.RND_PROVIDER_KEY = fake.url, KEY
    settings.RND_PROVIDER_BATCH, settings.RND_PROVIDER_TIMEOUT = 3, 5
    provider = rnd_provider_configured()
    assert provider is not None and provider.batch_limit == 3
    assert provider.query(_queries(1)) == ["no"]
