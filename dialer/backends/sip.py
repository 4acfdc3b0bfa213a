"""SIP: calls placed by a baresip user agent, driven over its ctrl_tcp module.

baresip (Debian `baresip-core`) runs beside us with `ctrl_tcp_listen`; we
speak JSON netstrings to it: `uanew` makes a user agent whose From carries
the program's number and caller-ID name (`caller_identity`: neutral for
reminders and alumni), `dial` calls `sip:<number>@SIP_TRUNK_HOST`, `hangup`
ends it. baresip reports CALL_RINGING / CALL_ESTABLISHED / CALL_CLOSED on the
same connection; `BaresipAgent.pump` maps them to outcomes with
`attempt_event_apply`. Ring time is baresip's (no local timeout shorter than
`TELEPHONY_RING_SECONDS` is applied; the trunk's own timer must be >= 15 s).

Limits (see the report in the issue): baresip 1.0's ctrl_tcp serves one
client at a time, so one process must own the agent (place and pump); staff
bridging and the 2-second abandonment message are not driven yet for SIP.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from dialer.backends import BackendError, CallStatus, PlacementUncertain, caller_identity
from dialer.backends.events import CallEvent, attempt_event_apply
from dialer.models import CallAttempt

log = logging.getLogger(__name__)

ACTOR = "system:sip"
_BUSY = ("486", "600")
_NO_ANSWER = ("408", "480", "487")


class BaresipAgent:
    """One control connection to baresip: commands out, responses and events in."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        self.host = host or settings.SIP_CTRL_HOST
        self.port = port or settings.SIP_CTRL_PORT
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._answered_at: dict[str, float] = {}

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

    def pump(
        self,
        *,
        until: Callable[[], bool],
        timeout: float,
        on_answer: Callable[[str], None] | None = None,
    ) -> None:
        """Apply call events to attempts until `until()` or `timeout` seconds pass.

        1. CALL_ESTABLISHED: note the answer time (duration), call `on_answer`.
        2. CALL_CLOSED: answered before -> completed; else the SIP cause says
           busy (486/600), no answer (408/480/487) or failed.
        3. The attempt is the one whose reference is `sip:<call id>`.
        """
        deadline = time.monotonic() + timeout
        while not until() and (left := deadline - time.monotonic()) > 0:
            event = self.next_event(min(left, 0.5))
            if event is None or event.get("class") != "call" or not event.get("id"):
                continue
            call_id = str(event["id"])
            kind = event.get("type")
            if kind == "CALL_ESTABLISHED":
                self._answered_at[call_id] = time.monotonic()
                if on_answer:
                    on_answer(f"sip:{call_id}")
            elif kind == "CALL_CLOSED":
                self._closed(call_id, str(event.get("param", "")))

    def _closed(self, call_id: str, cause: str) -> None:
        attempt_id = (
            CallAttempt.objects.filter(backend="sip", backend_ref=f"sip:{call_id}")
            .values_list("pk", flat=True)
            .first()
        )
        if attempt_id is None:
            log.warning("sip: a call ended that no attempt placed")
            return
        answered = self._answered_at.pop(call_id, None)
        if answered is not None:
            event, duration = CallEvent.COMPLETED, round(time.monotonic() - answered)
        elif cause.startswith(_BUSY):
            event, duration = CallEvent.BUSY, None
        elif cause.startswith(_NO_ANSWER):
            event, duration = CallEvent.NO_ANSWER, None
        else:
            event, duration = CallEvent.FAILED, None
        attempt_event_apply(
            attempt_id=attempt_id, event=event, actor=ACTOR, duration_seconds=duration
        )


_agent: BaresipAgent | None = None


def sip_agent() -> BaresipAgent:
    """This process's agent (baresip's ctrl_tcp takes one client)."""
    global _agent
    if _agent is None:
        _agent = BaresipAgent()
    return _agent


class SipBackend:
    name = "sip"

    def __init__(self, agent: BaresipAgent | None = None) -> None:
        self.agent = agent or sip_agent()

    def place(self, attempt: CallAttempt) -> str:
        """Dial through the trunk with the program's identity; the reference is baresip's call id.

        1. Make (or reuse) the user agent for this caller identity and select it.
        2. Dial; wait for the first event naming the call (ringing, answer or end).
        3. The agent took the dial but named no call in time: PlacementUncertain
           (it may be ringing): the reconciler asks the agent, nobody dials again.
        """
        trunk = settings.SIP_TRUNK_HOST
        if not trunk:
            raise BackendError("sip: SIP_TRUNK_HOST is not set")
        row = CallAttempt.objects.select_related("task__queue__program", "phone").get(pk=attempt.pk)
        if row.backend_ref:
            return row.backend_ref
        queue = row.task.queue
        identity = caller_identity(queue.program, queue.purpose)
        name = identity.name.replace('"', "").replace("\\", "")
        aor = f"sip:{identity.number}@{trunk.split(':')[0]}"
        self.agent.command("uanew", f'"{name}" <{aor}>;regint=0')
        self.agent.command("uafind", aor)
        peer = f"sip:{row.phone.number}@{trunk}"
        self.agent.command("dial", peer)
        deadline = time.monotonic() + settings.TELEPHONY_PLACE_TIMEOUT_SECONDS
        skipped: list[dict[str, Any]] = []
        try:
            while (left := deadline - time.monotonic()) > 0:
                event = self.agent.next_event(left)
                if event is None:
                    break
                skipped.append(event)  # the pump still needs every event
                if (
                    event.get("class") == "call"
                    and event.get("id")
                    and event.get("peeruri") == peer
                ):
                    return f"sip:{event['id']}"
        finally:
            self.agent.requeue(skipped)
        raise PlacementUncertain(f"sip: attempt {row.pk} was dialled but not confirmed")

    def hangup(self, reference: str) -> None:
        # baresip 1.0's `hangup` ends the current call; ids are not addressable there.
        self.agent.command("hangup")

    def status(self, attempt: CallAttempt) -> CallStatus:
        """The agent's state of the attempt's call (`listcalls` on the control socket).

        No reference: never handed to the agent (placement saves the reference
        under the task's lock). A call the agent still lists is in progress (for
        an unconfirmed dial, found by its peer URI, which also names it). A call
        it no longer lists ended without an end reported to us: its outcome is
        unknown, so it counts as `failed` (retried after the queue's spacing,
        never at once).
        """
        ref = attempt.backend_ref.removeprefix("sip:")
        if not ref:
            return CallStatus(event=None)
        listed = str(self.agent.command("listcalls").get("data", ""))
        if ref == "?":
            row = CallAttempt.objects.select_related("phone").get(pk=attempt.pk)
            peer = f"sip:{row.phone.number}@{settings.SIP_TRUNK_HOST}"
            for line in listed.splitlines():
                if peer in line:
                    call_id = line.rsplit("id=", 1)[-1].split()[0] if "id=" in line else "?"
                    return CallStatus(event=CallEvent.RINGING, reference=f"sip:{call_id}")
            return CallStatus(event=CallEvent.FAILED)
        if ref in listed:
            return CallStatus(event=CallEvent.RINGING)
        return CallStatus(event=CallEvent.FAILED)
