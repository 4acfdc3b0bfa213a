"""SIP: calls placed by a baresip user agent, driven over its ctrl_tcp module.

baresip (Debian `baresip-core`) runs beside us with `ctrl_tcp_listen`; we
speak JSON netstrings to it (`BaresipAgent`): `uanew` makes a user agent whose
From carries the program's number and caller-ID name (`caller_identity`:
neutral for reminders and alumni) and whose outbound proxy is SIP_TRUNK_HOST,
`dial` calls a SIP URI, `transfer` sends a REFER on the current call,
`hangup` ends it. baresip reports CALL_RINGING / CALL_ESTABLISHED /
CALL_CLOSED / TRANSFER_FAILED on the same connection.

Calls are agent-first: `SipBackend.place` hands the attempt to the host's
`sip_agent` process (dialer/backends/sip_agent.py), which alone owns the
control connection (baresip 1.0's ctrl_tcp serves one client at a time), rings
the assigned staff member, and transfers the answered staff leg to the
contact. Ring time is the PBX's (its timer must be >= 15 s).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

from django.conf import settings

from dialer.backends import BackendError, CallStatus
from dialer.backends.events import CallEvent
from dialer.backends.sip_agent import sip_agent_enqueue, sip_agent_holds
from dialer.models import CallAttempt, StaffPresence

log = logging.getLogger(__name__)


class BaresipAgent:
    """One control connection to baresip: commands out, responses and events in."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        self.host = host or settings.SIP_CTRL_HOST
        self.port = port or settings.SIP_CTRL_PORT
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def _conn(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection(
                    (self.host, self.port), timeout=settings.TELEPHONY_PLACE_TIMEOUT_SECONDS
                )
            except OSError as exc:
                raise BackendError(f"sip: user agent unreachable ({exc.strerror})") from None
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read(self, timeout: float) -> dict[str, Any] | None:
        """The next netstring message, or None when `timeout` passes first."""
        conn = self._conn()
        deadline = time.monotonic() + timeout
        while True:
            head, colon, rest = self._buffer.partition(b":")
            if colon and head.isdigit() and len(rest) > int(head):
                size = int(head)
                payload, self._buffer = rest[:size], rest[size + 1 :]
                message: dict[str, Any] = json.loads(payload)
                return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            conn.settimeout(left)
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                self.close()
                raise BackendError("sip: the user agent closed the control connection")
            self._buffer += chunk

    def command(self, command: str, params: str = "") -> dict[str, Any]:
        token = f"t{time.monotonic_ns()}"
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._conn().sendall(str(len(data)).encode() + b":" + data + b",")
        deadline = time.monotonic() + settings.TELEPHONY_PLACE_TIMEOUT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            message = self._read(left)
            if message is None:
                break
            if message.get("response") and message.get("token") == token:
                if not message.get("ok"):
                    raise BackendError(f"sip: user agent refused {command}")
                return message
            if message.get("event"):
                self._events.append(message)
        raise BackendError(f"sip: no answer from the user agent to {command}")

    def requeue(self, events: list[dict[str, Any]]) -> None:
        self._events[:0] = events

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        if self._events:
            return self._events.pop(0)
        message = self._read(timeout)
        while message is not None and not message.get("event"):
            message = self._read(timeout)
        return message


class SipBackend:
    """Agent-first SIP: the host's `sip_agent` process places the call (see sip_agent.py)."""

    name = "sip"

    def place(self, attempt: CallAttempt) -> str:
        """Hand the attempt to the sip_agent; the reference names the attempt.

        1. Nothing to ring first (no trunk, no staff member assigned, or none
           with an answer point): refused, never placed. A contact answered with
           nobody to take the call would be an abandoned call.
        2. Push its id on the agent's queue (nothing else: no number in Redis).
           baresip names its call only once the agent dials, so the reference is
           the attempt's own (`sip:attempt-<id>`).
        """
        if not settings.SIP_TRUNK_HOST:
            raise BackendError("sip: SIP_TRUNK_HOST is not set")
        row = CallAttempt.objects.only("pk", "backend_ref", "placed_by_id").get(pk=attempt.pk)
        if row.backend_ref:
            return row.backend_ref
        if row.placed_by_id is None:
            raise BackendError(f"sip: attempt {row.pk} has no staff member to ring first")
        staff = StaffPresence.objects.filter(user_id=row.placed_by_id).exclude(answer_at="")
        if not staff.exists():
            raise BackendError(f"sip: the staff member of attempt {row.pk} has no answer point")
        sip_agent_enqueue(attempt_id=row.pk)
        return f"sip:attempt-{row.pk}"

    def hangup(self, reference: str) -> None:
        # Only the sip_agent speaks to baresip; it ends its calls itself.
        raise BackendError("sip: calls are ended by the sip_agent process")

    def status(self, attempt: CallAttempt) -> CallStatus:
        """What the sip_agent knows of the attempt (the reconciler asks past the lease).

        No reference: never handed to the agent. Waiting or in the hands of a
        live agent: in progress. Otherwise it left no trace (taken back from a
        queue no agent served, or held by an agent that died mid-call): its
        outcome is unknown, so it counts as `failed` (retried after the queue's
        spacing, never at once). Redis unreachable: BackendError (asked again).
        """
        if not attempt.backend_ref:
            return CallStatus(event=None)
        if sip_agent_holds(attempt_id=attempt.pk):
            return CallStatus(event=CallEvent.RINGING)
        return CallStatus(event=CallEvent.FAILED)
