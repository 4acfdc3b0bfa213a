"""The model and the simulated clock of bench/agents.py: what each call does, a fake
Twilio client that records what the agent-first backend asks of it, and a heap of
events on a simulated clock (seconds from START). Nothing here touches the database.
"""

from __future__ import annotations

import heapq
import itertools
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

# A Monday, 10:00 in New York: the callbacks' window (09:00-20:00 local) is open all run.
START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
STAFF_ANSWER_S = 4.0
WRAP_UP_S = 30.0
PREVIEW_DIAL_S = 20.0
PREVIEW_LOG_S = 5.0
PREVIEW_MACHINE_S = 12.0
AMD_S = 3.0
BUSY_S = 3.0
LOAD = 0.9
MIX = (("human", 0.35), ("no_answer", 0.40), ("machine", 0.15), ("busy", 0.10))


@dataclass(frozen=True)
class Call:
    """What happens when one task's contact is dialled (the same in both modes)."""

    kind: str  # human | no_answer | machine | busy
    ring_s: float  # until the contact (or machine) answers
    talk_s: float


def calls_sampled(n: int, rng: random.Random) -> list[Call]:
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    return [
        Call(rng.choices(kinds, weights)[0], rng.uniform(5, 20), rng.uniform(60, 300))
        for _ in range(n)
    ]


def agent_first_call_s(call: Call, ring_s: float) -> float:
    """Seconds from the contact's dial to the end of the call, agent-first."""
    return {
        "human": call.ring_s + call.talk_s,
        "no_answer": ring_s,
        "machine": call.ring_s + AMD_S,
        "busy": BUSY_S,
    }[call.kind]


def preview_call_s(call: Call, ring_s: float) -> float:
    return {
        "human": call.ring_s + call.talk_s,
        "no_answer": ring_s,
        "machine": call.ring_s + PREVIEW_MACHINE_S,
        "busy": BUSY_S,
    }[call.kind]


def mean_engaged_s(ring_s: float) -> float:
    """Expected staff time per call agent-first (what the arrival rate is set from)."""
    weights = dict(MIX)
    return (
        STAFF_ANSWER_S
        + weights["human"] * (12.5 + 180 + WRAP_UP_S)
        + weights["no_answer"] * ring_s
        + weights["machine"] * (12.5 + AMD_S)
        + weights["busy"] * BUSY_S
    )


# --- the simulated provider --------------------------------------------------------------


class SimTwilio:
    """Twilio's client as far as the agent-first backend uses it, answering in-process."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.calls = _Calls(self)

    def conferences(self, name: str) -> Any:
        def create(**form: Any) -> Any:
            self.requests.append((f"participant:{name}", form))
            return SimpleNamespace(call_sid="CA" + secrets.token_hex(16))

        return SimpleNamespace(participants=SimpleNamespace(create=create))


class _Calls:
    def __init__(self, sim: SimTwilio) -> None:
        self.sim = sim

    def create(self, **form: Any) -> Any:
        self.sim.requests.append(("call", form))
        return SimpleNamespace(sid="CA" + secrets.token_hex(16))

    def __call__(self, sid: str) -> Any:
        return SimpleNamespace(update=lambda **form: self.sim.requests.append(("update", form)))


# --- the run -----------------------------------------------------------------------------


@dataclass(order=True)
class Event:
    at: float
    seq: int
    kind: str = field(compare=False)
    data: Any = field(compare=False, default=None)


@dataclass
class Figures:
    on_call_s: float = 0.0
    dialled: int = 0
    waits: list[float] = field(default_factory=list)
    end_s: float = 0.0
    abandonment: float = 0.0


class Sim:
    """A heap of events on a simulated clock (seconds from START)."""

    def __init__(self, traveller: Any) -> None:
        self.heap: list[Event] = []
        self.seq = itertools.count()
        self.traveller = traveller
        self.now_s = 0.0

    def at(self, seconds: float, kind: str, data: Any = None) -> None:
        heapq.heappush(self.heap, Event(seconds, next(self.seq), kind, data))

    def run(self, handle: Callable[[Event], None]) -> None:
        while self.heap:
            event = heapq.heappop(self.heap)
            self.now_s = event.at
            self.traveller.move_to(START + timedelta(seconds=event.at))
            handle(event)
