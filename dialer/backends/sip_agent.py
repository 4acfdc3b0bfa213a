"""The SIP agent: the one process per host that owns baresip's control socket.

baresip 1.0's ctrl_tcp serves one client, so dispatch (Celery workers, any
number of them) never speaks to baresip: `SipBackend.place` pushes the
attempt's id onto a Redis list and the `sip_agent` management command takes
it from there and drives the call. A Redis list rather than a Celery queue:
a call lasts longer than the broker's visibility timeout, and a Celery
message not acknowledged by then is delivered again (a second call), while
a list item moved to the agent's working list (BRPOPLPUSH, atomic) is never
handed out twice. The list carries attempt ids only, never a number; the
database stays the queue of record: the agent re-reads the attempt and
skips one already closed, and `SipBackend.status` tells the reconciler what
became of one the agent lost.

An agent-first call, as the agent drives it (`SipAgent.attempt_run`):
1. Dial the staff member's answer point (`placed_by`'s `answer_at`: a SIP
   address, or a number at the trunk) through SIP_TRUNK_HOST, from the
   program's caller identity. Not answered within TELEPHONY_RING_SECONDS, or
   refused: `staff_leg_unanswered` (the attempt is withdrawn, the task due again).
2. Answered: the last check (`staff_leg_answered`). Refused: hang up; the
   contact was never called and hears nothing.
3. Allowed: transfer the staff leg to the contact with a SIP REFER, so that
   the PBX dials the contact and bridges the two legs. Refer-To is the
   contact's number at the trunk with the program's caller ID as an embedded
   P-Asserted-Identity header (for a PBX that takes it from there).
4. The PBX reports the contact leg in NOTIFYs (message/sipfrag): 200 bridged
   (connected); 486/600 busy; 408/480/487 not answered; any other failed:
   applied with `attempt_event_apply`. After a failed transfer the staff leg is
   hung up.
5. Our leg ending before a final NOTIFY means the staff leg dropped while the
   contact was being dialled. What the PBX must do then (RULES.md section 4):
   if the contact answers with no staff member to bridge, play the required
   message within 2 seconds (the seller's name, the purpose, a number to call
   back, and a key press that opts out into the internal DNC list); if the
   contact has not answered, cancel the contact leg. We cannot tell which
   happened, so the attempt counts as abandoned (the abandonment rate is
   never understated). The same holds when no final NOTIFY comes in time.

One call at a time per agent: baresip 1.0's `transfer` and `hangup` act on the
current call only. Redis keys: QUEUE (waiting ids), WORKING (ids taken by an
agent), HOLDERS (id -> agent name), and ALIVE:<name> (a heartbeat with a TTL).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.utils import timezone

from campaigns.models import Program
from dialer.acts.agent_first import ContactLeg, staff_leg_answered, staff_leg_unanswered
from dialer.backends import BackendError, caller_identity
from dialer.backends.events import CallEvent, attempt_event_apply
from dialer.models import CallAttempt, StaffPresence

log = logging.getLogger(__name__)

ACTOR = "system:sip_agent"
QUEUE = "sip_agent:queue"
WORKING = "sip_agent:working"
HOLDERS = "sip_agent:holders"
ALIVE = "sip_agent:alive:"
HEARTBEAT_SECONDS = 15  # an agent silent this long is taken for dead
# Past the contact's ring time, how long we wait for the PBX's final NOTIFY.
NOTIFY_GRACE_SECONDS = 10


@cache
def _redis(url: str) -> redis.Redis:
    # The socket timeout outlasts the agent's blocking pop (1 s).
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=5, decode_responses=True
    )


def sip_redis() -> redis.Redis:
    return _redis(settings.REDIS_URL)


def _unreachable(exc: Exception) -> BackendError:
    return BackendError(f"sip: the agent's queue is unreachable ({type(exc).__name__})")


def sip_agent_enqueue(*, attempt_id: int) -> None:
    """Hand an attempt to the host's SIP agent (its id only)."""
    try:
        sip_redis().lpush(QUEUE, attempt_id)
    except redis.RedisError as exc:
        raise _unreachable(exc) from None


def sip_agent_holds(*, attempt_id: int) -> bool:
    """Whether a live agent has the attempt waiting or in hand (asked by the reconciler).

    An attempt still waiting once the reconciler asks (past its lease) is taken
    back from the queue, so that no agent dials it late. One in a working list
    whose agent stopped beating was lost mid-call.
    """
    client = sip_redis()
    try:
        if client.lrem(QUEUE, 0, str(attempt_id)):
            return False
        if client.lpos(WORKING, str(attempt_id)) is None:
            return False
        holder = client.hget(HOLDERS, str(attempt_id))
        if holder is not None and client.exists(ALIVE + str(holder)):
            return True
        client.lrem(WORKING, 0, str(attempt_id))
        client.hdel(HOLDERS, str(attempt_id))
        return False
    except redis.RedisError as exc:
        raise _unreachable(exc) from None


def sip_programs_exist() -> bool:
    """Whether any program places its calls over SIP (its own choice, or the default's)."""
    programs = Program.objects.all()
    if settings.TELEPHONY_BACKEND == "sip":
        return programs.filter(telephony_backend__in=("", "sip")).exists()
    return programs.filter(telephony_backend="sip").exists()


def staff_target(answer_at: str, trunk: str) -> str:
    """The SIP URI that rings a staff member: their SIP address, or their number at the trunk."""
    if answer_at.startswith(("sip:", "sips:")):
        return answer_at
    return f"sip:{answer_at}@{trunk}"


def refer_target(leg: ContactLeg, trunk: str) -> str:
    """Refer-To: the contact's number at the trunk, the caller ID as an embedded header."""
    caller = caller_identity(leg.queue.program, leg.queue.purpose)
    name = caller.name.replace('"', "").replace("\\", "")
    asserted = f'"{name}" <sip:{caller.number}@{trunk.split(":")[0]}>'
    return f"sip:{leg.number}@{trunk}?P-Asserted-Identity={quote(asserted, safe='')}"


_BUSY = ("486", "600")
_NO_ANSWER = ("408", "480", "487")


def cause_event(status: str) -> CallEvent:
    """A SIP final status ("486 Busy Here"), of a call or a transfer's sipfrag, as a call event."""
    if status.startswith(_BUSY):
        return CallEvent.BUSY
    if status.startswith(_NO_ANSWER):
        return CallEvent.NO_ANSWER
    return CallEvent.FAILED


@dataclass
class _Leg:
    """Our one call with baresip: its id once baresip names it, and how it ended."""

    target: str
    call_id: str = ""
    established: bool = False
    closed: str | None = None  # CALL_CLOSED's param
    transfer_failed: str | None = None  # TRANSFER_FAILED's param: "486 Busy Here"


class SipAgent:
    """Takes attempts from the queue, one at a time, and drives their calls through baresip."""

    def __init__(self, baresip: Any, *, name: str | None = None) -> None:
        self.baresip = baresip
        self.name = name or socket.gethostname()
        self.redis = sip_redis()

    def beat(self) -> None:
        self.redis.set(ALIVE + self.name, "1", ex=HEARTBEAT_SECONDS)

    def start(self) -> None:
        """A restarted agent does not know what became of the calls it held: the
        reconciler settles them (never by a second call)."""
        held = self.redis.hgetall(HOLDERS)
        for attempt_id, holder in held.items():
            if holder == self.name:
                self.redis.hdel(HOLDERS, attempt_id)
        self.beat()

    def take(self, timeout: int = 1) -> int | None:
        """The next attempt id, moved to the working list (atomic), or None."""
        raw = self.redis.brpoplpush(QUEUE, WORKING, timeout=timeout)
        if raw is None:
            return None
        self.redis.hset(HOLDERS, raw, self.name)
        return int(raw)

    def done(self, attempt_id: int) -> None:
        self.redis.lrem(WORKING, 0, str(attempt_id))
        self.redis.hdel(HOLDERS, str(attempt_id))

    def run(self, *, stop: Callable[[], bool]) -> None:
        """Serve the queue until `stop()`; the heartbeat goes on between calls and during them.

        An attempt is taken only while baresip answers; one whose call broke
        with baresip's connection is let go (the reconciler settles it as failed).
        """
        self.start()
        while not stop():
            self.beat()
            try:
                self.baresip.command("listcalls")
            except BackendError:
                self.baresip.close()
                time.sleep(1)
                continue
            attempt_id = self.take()
            if attempt_id is None:
                continue
            try:
                result = self.attempt_run(attempt_id)
                log.info("sip_agent: attempt %s: %s", attempt_id, result)
            except BackendError as exc:
                log.warning("sip_agent: attempt %s: %s", attempt_id, type(exc).__name__)
                self.baresip.close()
            finally:
                self.done(attempt_id)

    # -- one call ---------------------------------------------------------------

    def _select_identity(self, attempt: CallAttempt, trunk: str) -> None:
        queue = attempt.task.queue
        identity = caller_identity(queue.program, queue.purpose)
        name = identity.name.replace('"', "").replace("\\", "")
        host = trunk.split(":")[0]
        aor = f"sip:{identity.number}@{host}"
        try:
            self.baresip.command("uafind", aor)
        except BackendError:  # first call from this identity: make its user agent
            self.baresip.command("uanew", f'"{name}" <{aor}>;outbound="sip:{trunk}";regint=0')
            self.baresip.command("uafind", aor)

    def _wait(self, leg: _Leg, until: Callable[[_Leg], bool], timeout: float) -> bool:
        """Read baresip's events for our call until `until(leg)`; False when `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not until(leg):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.beat()
            event = self.baresip.next_event(min(left, 1.0))
            if event is None or event.get("class") != "call":
                continue
            if not leg.call_id and event.get("peeruri") == leg.target and event.get("id"):
                leg.call_id = str(event["id"])
            if not leg.call_id or str(event.get("id")) != leg.call_id:
                continue
            kind = event.get("type")
            if kind == "CALL_ESTABLISHED":
                leg.established = True
            elif kind == "CALL_CLOSED":
                leg.closed = str(event.get("param", ""))
            elif kind == "TRANSFER_FAILED":
                leg.transfer_failed = str(event.get("param", ""))
        return True

    def _hangup(self, leg: _Leg) -> None:
        if leg.closed is None:
            self.baresip.command("hangup")
            timeout = settings.TELEPHONY_PLACE_TIMEOUT_SECONDS
            self._wait(leg, lambda x: x.closed is not None, timeout)

    def attempt_run(self, attempt_id: int) -> str:
        """Drive one agent-first call (see the module's steps); returns what happened.

        staff_unanswered | refused | connected | busy | no_answer | failed | abandoned |
        closed (the attempt was closed before the agent took it).
        """
        attempt = (
            CallAttempt.objects.select_related("task__queue__program").filter(pk=attempt_id).first()
        )
        if attempt is None or attempt.outcome:
            return "closed"
        trunk = settings.SIP_TRUNK_HOST
        answer_at = (
            StaffPresence.objects.filter(user_id=attempt.placed_by_id)
            .values_list("answer_at", flat=True)
            .first()
            if attempt.placed_by_id is not None
            else None
        )
        if not trunk or not answer_at:  # nobody to ring: nobody is called
            staff_leg_unanswered(attempt_id=attempt_id, now=timezone.now())
            return "staff_unanswered"
        # 1. The staff leg.
        self._select_identity(attempt, trunk)
        leg = _Leg(target=staff_target(answer_at, trunk))
        self.baresip.command("dial", leg.target)
        ring = settings.TELEPHONY_RING_SECONDS
        if not self._wait(leg, lambda x: x.established or x.closed is not None, ring):
            self._hangup(leg)
        if not leg.established:
            staff_leg_unanswered(attempt_id=attempt_id, now=timezone.now())
            return "staff_unanswered"
        # 2. The last check, the moment the staff member picked up.
        answer = staff_leg_answered(attempt_id=attempt_id, now=timezone.now())
        if answer.leg is None:
            self._hangup(leg)
            return "refused"
        # 3. The REFER; 4. its outcome, from the PBX's NOTIFYs.
        self.baresip.command("transfer", refer_target(answer.leg, trunk))
        reported = self._wait(
            leg,
            lambda x: x.closed is not None or x.transfer_failed is not None,
            answer.leg.ring_seconds + NOTIFY_GRACE_SECONDS,
        )
        if leg.transfer_failed is not None:
            self._hangup(leg)
            event = cause_event(leg.transfer_failed)
            attempt_event_apply(attempt_id=attempt_id, event=event, actor=ACTOR)
            return event.value
        if reported and leg.closed == TRANSFERRED:
            attempt_event_apply(attempt_id=attempt_id, event=CallEvent.COMPLETED, actor=ACTOR)
            return "connected"
        # 5. Our leg ended (or the PBX fell silent) before the contact leg's outcome.
        self._hangup(leg)
        attempt_event_apply(
            attempt_id=attempt_id, event=CallEvent.COMPLETED, actor=ACTOR, abandoned=True
        )
        return "abandoned"


# baresip's CALL_CLOSED param once the REFER's final NOTIFY said 2xx.
TRANSFERRED = "Call transfered"
