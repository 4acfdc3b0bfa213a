"""Telephony fixtures: attempts ready to place, and a local fake of Twilio.

The fake speaks Twilio's REST wire format (form-encoded requests, JSON answers
shaped like Twilio's) for Calls, Conferences and their Participants, and sends
the signed callbacks the real service sends (call status, conference events,
answering-machine detection) to the Django test client.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.utils import timezone

from campaigns.models import Queue
from dialer.models import CallAttempt, CallTask, TaskStatus
from tests.conftest import Portfolio

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "f0" * 16
PUBLIC_URL = "https://calls.example.org"
CALLER_ID = "+13055550100"


def attempt_create(portfolio: Portfolio, queue: Queue, backend: str) -> CallAttempt:
    """An attempt as dispatch leaves it: task in progress, outcome blank, not yet placed."""
    program = queue.program
    program.caller_id_number = CALLER_ID
    program.neutral_name = "Harbor Group"
    program.save(update_fields=["caller_id_number", "neutral_name"])
    phone = portfolio.contact_a.phones.get()
    task = CallTask.objects.create(
        contact=portfolio.contact_a,
        phone=phone,
        number_hash=phone.number_hash,
        queue=queue,
        status=TaskStatus.IN_PROGRESS,
        attempts=1,
        next_attempt_at=timezone.now(),
        origin="api",
    )
    return CallAttempt.objects.create(
        task=task, phone=phone, attempt_number=1, started_at=timezone.now(), backend=backend
    )


@dataclass
class FakeTwilio:
    """Twilio's REST API for calls, as far as we use it, on 127.0.0.1."""

    base_url: str = ""
    created: list[dict[str, list[str]]] = field(default_factory=list)
    updated: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds before each answer: a slow provider
    # Call SID -> status, as GET Calls/{sid} answers it (unknown SIDs: 404).
    statuses: dict[str, str] = field(default_factory=dict)
    # (conference name or SID, form) of each participant added, and its call SID.
    participants: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    participant_sids: list[str] = field(default_factory=list)
    # Conference friendly name -> its SID (created by the first participant added).
    conferences: dict[str, str] = field(default_factory=dict)
    sequence: int = 0

    def send(self, client: Any, url: str, params: dict[str, str]) -> Any:
        """POST a callback as Twilio does: form-encoded, signed over the full URL."""
        from twilio.request_validator import RequestValidator

        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.post(
            path,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )

    def call_params(self, sid: str, status: str, **extra: str) -> dict[str, str]:
        """A call's status callback (or the parameters of a TwiML request for it)."""
        self.sequence += 1
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "SequenceNumber": str(self.sequence),
            "Timestamp": _now(),
            **extra,
        }

    def conference_params(self, name: str, event: str, call_sid: str) -> dict[str, str]:
        """A conference status callback (participant-join, participant-leave)."""
        self.sequence += 1
        return {
            "AccountSid": ACCOUNT_SID,
            "ConferenceSid": self.conferences.setdefault(name, "CF" + secrets.token_hex(16)),
            "FriendlyName": name,
            "StatusCallbackEvent": event,
            "CallSid": call_sid,
            "Muted": "false",
            "Hold": "false",
            "Coaching": "false",
            "EndConferenceOnExit": "true",
            "StartConferenceOnEnter": "true",
            "SequenceNumber": str(self.sequence),
            "Timestamp": _now(),
        }

    def amd_params(self, call_sid: str, answered_by: str) -> dict[str, str]:
        """The asynchronous answering-machine detection callback."""
        return {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call_sid,
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": "2830",
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _conference_resource(sid: str, name: str, status: str) -> dict[str, Any]:
    now = _now()
    uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Conferences/{sid}"
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "call_sid_ending_conference": None,
        "date_created": now,
        "date_updated": now,
        "friendly_name": name,
        "reason_conference_ended": None,
        "region": "us1",
        "sid": sid,
        "status": status,
        "subresource_uris": {"participants": f"{uri}/Participants.json"},
        "uri": f"{uri}.json",
    }


def _participant_resource(
    conference_sid: str, call_sid: str, form: dict[str, list[str]]
) -> dict[str, Any]:
    now = _now()
    return {
        "account_sid": ACCOUNT_SID,
        "call_sid": call_sid,
        "call_sid_to_coach": None,
        "coaching": False,
        "conference_sid": conference_sid,
        "date_created": now,
        "date_updated": now,
        "end_conference_on_exit": form.get("EndConferenceOnExit", ["false"])[0] == "true",
        "hold": False,
        "label": form.get("Label", [None])[0],
        "muted": False,
        "queue_time": "0",
        "start_conference_on_enter": form.get("StartConferenceOnEnter", ["true"])[0] == "true",
        "status": "queued",
        "uri": (
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Conferences/{conference_sid}"
            f"/Participants/{call_sid}.json"
        ),
    }


def _call_resource(sid: str, form: dict[str, list[str]], status: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "to": form.get("To", [""])[0],
        "to_formatted": form.get("To", [""])[0],
        "from": form.get("From", [""])[0],
        "from_formatted": form.get("From", [""])[0],
        "status": status,
        "direction": "outbound-api",
        "date_created": now,
        "date_updated": now,
        "start_time": None,
        "end_time": None,
        "duration": None,
        "price": None,
        "price_unit": "USD",
        "answered_by": None,
        "caller_name": None,
        "forwarded_from": None,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "queue_time": "0",
        "trunk_sid": None,
        "annotation": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
        "subresource_uris": {},
    }


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    calls_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"
    conferences_path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Conferences/"
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet: the test reads `fake`
            pass

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            time.sleep(fake.delay)
            if self.headers.get("Authorization") != expected_auth:
                fake.refused.append("auth")
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
            if self.path.startswith(f"{calls_path}/CA") and sid in fake.statuses:
                self._answer(200, _call_resource(sid, {}, fake.statuses[sid]))
            else:
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})

        def do_POST(self) -> None:
            time.sleep(fake.delay)
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            if self.headers.get("Authorization") != expected_auth:
                fake.refused.append("auth")
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            if self.headers.get("Content-Type", "").split(";")[0] != (
                "application/x-www-form-urlencoded"
            ):
                fake.refused.append("content-type")
                self._answer(400, {"code": 20001, "message": "Bad request", "status": 400})
                return
            form = parse_qs(raw, keep_blank_values=True)
            if self.path == f"{calls_path}.json":
                if not {"To", "From"} <= form.keys() or not ({"Url", "Twiml"} & form.keys()):
                    self._answer(400, {"code": 21201, "message": "Missing", "status": 400})
                    return
                fake.created.append(form)
                sid = "CA" + secrets.token_hex(16)
                fake.statuses[sid] = "queued"
                self._answer(201, _call_resource(sid, form, "queued"))
            elif self.path.startswith(conferences_path) and self.path.endswith(
                "/Participants.json"
            ):
                name = self.path.removeprefix(conferences_path).split("/")[0]
                if not {"To", "From"} <= form.keys():
                    self._answer(400, {"code": 21201, "message": "Missing", "status": 400})
                    return
                conference = fake.conferences.setdefault(name, "CF" + secrets.token_hex(16))
                sid = "CA" + secrets.token_hex(16)
                fake.participants.append((name, form))
                fake.participant_sids.append(sid)
                fake.statuses[sid] = "queued"
                self._answer(201, _participant_resource(conference, sid, form))
            elif self.path.startswith(conferences_path) and self.path.endswith(".json"):
                sid = self.path.removeprefix(conferences_path).removesuffix(".json")
                fake.updated.append((sid, form))
                self._answer(200, _conference_resource(sid, sid, form.get("Status", [""])[0]))
            elif self.path.startswith(f"{calls_path}/CA") and self.path.endswith(".json"):
                sid = self.path.rsplit("/", 1)[1].removesuffix(".json")
                fake.updated.append((sid, form))
                if "Status" in form:
                    fake.statuses[sid] = form["Status"][0]
                status = fake.statuses.get(sid, "in-progress")
                self._answer(200, _call_resource(sid, form, status))
            else:
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
