"""Agent-first SIP on loopback: the sip_agent drives baresip, SIPp plays the PBX.

The staff leg rings first; only once it answers (and the last check allows
the call) is it transferred to the contact with a REFER, whose outcome comes
back in the PBX's NOTIFYs. Scenarios: tests/telephony/sipp/*.xml.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from dialer.acts.optout import dnc_request_record
from dialer.backends.sip import BaresipAgent, SipBackend
from dialer.backends.sip_agent import HOLDERS, QUEUE, WORKING, SipAgent, sip_redis
from dialer.models import CallAttempt, CallTask, Outcome, PresenceState, StaffPresence, TaskStatus
from dialer.presence import presence_set
from dialer.runtime.dispatch import dispatch_task
from tests.conftest import Portfolio
from tests.runtime.helpers import MONDAY_MORNING, SYSTEM, planned_task, wait_for

SCENARIOS = Path(__file__).parent / "sipp"
CALLER_ID = "+13055550100"
NUMBER_A = "+13055550123"
STAFF_AT = "sip:staff-a@pbx.example.org"


def _installed() -> str | None:
    """None when baresip and sipp are present, else why not."""
    if shutil.which("baresip") and shutil.which("sipp"):
        return None
    return "baresip-core and sip-tester (sipp) are not installed"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Pbx:
    """SIPp playing the PBX for one scenario, and baresip driven by our sip_agent."""

    agent: SipAgent
    sipp: subprocess.Popen[bytes]
    trace: Path
    errors: Path

    def messages(self) -> str:
        return self.trace.read_text(errors="replace") if self.trace.exists() else ""

    def finished(self) -> int:
        """SIPp's exit code once the scenario is over (0: every step as scripted)."""
        return self.sipp.wait(timeout=20)


@pytest.fixture
def pbx(tmp_path: Path, settings: Any) -> Iterator[Callable[..., Pbx]]:
    why = _installed()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs both: never a silent skip there
        pytest.skip(why)
    client = sip_redis()
    client.delete(QUEUE, WORKING, HOLDERS)
    started: list[subprocess.Popen[bytes]] = []
    agents: list[BaresipAgent] = []

    def start(scenario: str, *keys: str) -> Pbx:
        sip_port, ctrl_port, pbx_port = (
            _free_port(socket.SOCK_DGRAM),
            _free_port(socket.SOCK_STREAM),
            _free_port(socket.SOCK_DGRAM),
        )
        tone = tmp_path / "silence.wav"  # what the staff leg hears from us: 60 s of silence
        with wave.open(str(tone), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 8000 * 60)
        conf = tmp_path / "baresip"
        conf.mkdir()
        (conf / "accounts").write_text("")
        (conf / "contacts").write_text("")
        (conf / "config").write_text(
            f"poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\n"
            "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n"
            f"module_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n"
            f"audio_player aufile,/dev/null\naudio_source aufile,{tone}\n"
            "audio_alert aufile,/dev/null\n"
        )
        trace, errors = tmp_path / "sipp.msg", tmp_path / "sipp.err"
        key_args = [arg for pair in zip(keys[::2], keys[1::2], strict=True) for arg in
                    ("-key", *pair)]  # fmt: skip
        agent_process = subprocess.Popen(
            ["baresip", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=(tmp_path / "baresip.out").open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(agent_process)
        sipp = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / scenario), *key_args, "-i", "127.0.0.1",
             "-p", str(pbx_port), "-m", "1", "-trace_msg", "-message_file", str(trace),
             "-trace_err", "-error_file", str(errors), "-nostdin", "-timeout", "40s"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(sipp)
        settings.SIP_CTRL_HOST, settings.SIP_CTRL_PORT = "127.0.0.1", ctrl_port
        settings.SIP_TRUNK_HOST = f"127.0.0.1:{pbx_port}"
        baresip = BaresipAgent()
        agents.append(baresip)

        def answers() -> bool:
            if agent_process.poll() is not None:  # it will never answer: say why
                output = (tmp_path / "baresip.out").read_text()[-2000:]
                raise AssertionError(f"baresip exited before listening:\n{output}")
            try:
                socket.create_connection(("127.0.0.1", ctrl_port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_for(answers, 30)  # a busy host starts baresip and its modules slowly
        return Pbx(SipAgent(baresip, name="test-agent"), sipp, trace, errors)

    try:
        yield start
    finally:
        for baresip in agents:
            baresip.close()
        for proc in reversed(started):
            _stop(proc)
        client.delete(QUEUE, WORKING, HOLDERS)


@pytest.fixture
def monday() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        yield


class _AssignedSip(SipBackend):
    """Dispatch's assignment (issue 15's pacing) done here: staff A takes the attempt."""

    def __init__(self, staff: User) -> None:
        self.staff = staff

    def place(self, attempt: CallAttempt) -> str:
        CallAttempt.objects.filter(pk=attempt.pk).update(placed_by=self.staff)
        return super().place(attempt)


def _placed(portfolio: Portfolio) -> CallAttempt:
    """A callback dispatched to SIP and assigned to staff A, waiting on the agent's queue."""
    program = portfolio.program_a
    program.caller_id_number = CALLER_ID
    program.save(update_fields=["caller_id_number"])
    presence_set(user=portfolio.staff_a, state="available", answer_at=STAFF_AT, now=timezone.now())
    task = planned_task(portfolio.callback_a, portfolio.contact_a)
    result = dispatch_task(task_id=task.pk, backend=_AssignedSip(portfolio.staff_a))
    assert result.status == "placed" and result.attempt_id is not None, result
    attempt = CallAttempt.objects.get(pk=result.attempt_id)
    assert attempt.backend_ref == f"sip:attempt-{attempt.pk}"
    # Only the attempt's id is queued: no number, no name.
    assert sip_redis().lrange(QUEUE, 0, -1) == [str(attempt.pk)]
    return attempt


def _firsts(messages: str) -> list[str]:
    """The first line of each SIP message in SIPp's trace, in order."""
    return [
        line.split(" sip:")[0] if not line.startswith("SIP/2.0") else " ".join(line.split()[:2])
        for line in messages.splitlines()
        if line.startswith(("INVITE ", "ACK ", "BYE ", "REFER ", "NOTIFY ", "CANCEL ", "SIP/2.0 "))
    ]


def _header(messages: str, name: str) -> str:
    return next(line for line in messages.splitlines() if line.startswith(name + ":"))


@pytest.mark.django_db
def test_the_staff_leg_rings_first_then_a_refer_joins_the_contact(
    monday: None, portfolio: Portfolio, pbx: Callable[..., Pbx]
) -> None:
    lab = pbx("staff_answers_refer.xml", "final", "200 OK")
    attempt = _placed(portfolio)
    taken = lab.agent.take(timeout=1)
    assert taken == attempt.pk
    assert lab.agent.attempt_run(attempt.pk) == "connected"
    assert lab.finished() == 0, lab.errors.read_text(errors="replace")
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.CONNECTED and attempt.answered
    assert attempt.decision["allowed"] is True  # decided again when the staff member answered
    messages = lab.messages()
    firsts = _firsts(messages)
    # The staff address is rung first, through the trunk; the REFER only after its answer.
    assert messages.index(f"INVITE {STAFF_AT} SIP/2.0") < messages.index("REFER ")
    assert firsts.index("SIP/2.0 200") < firsts.index("ACK") < firsts.index("REFER")
    assert firsts.count("INVITE") == 1  # nobody else was dialled by us: the PBX dials the contact
    assert "Route: <sip:127.0.0.1:" in messages  # the trunk is the outbound proxy
    refer_to = _header(messages, "Refer-To")
    target, _, headers = refer_to.removeprefix("Refer-To: ").partition("?")
    assert target.startswith(f"sip:{NUMBER_A}@127.0.0.1:")
    # The program's caller ID for the PBX: a callback shows the program's legal name.
    assert unquote(headers) == f'P-Asserted-Identity="Program A" <sip:{CALLER_ID}@127.0.0.1>'
    assert "SIP/2.0 200 OK" in messages.split("NOTIFY ", 2)[2]  # the final sipfrag
    assert firsts[-2:] == ["BYE", "SIP/2.0 200"]  # our leg leaves the bridged call


@pytest.mark.django_db
def test_a_busy_contact_reported_by_notify_is_busy_and_the_staff_leg_is_ended(
    monday: None, portfolio: Portfolio, pbx: Callable[..., Pbx]
) -> None:
    lab = pbx("staff_answers_refer.xml", "final", "486 Busy Here")
    attempt = _placed(portfolio)
    assert lab.agent.take(timeout=1) == attempt.pk
    assert lab.agent.attempt_run(attempt.pk) == "busy"
    assert lab.finished() == 0, lab.errors.read_text(errors="replace")
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.BUSY and not attempt.answered
    assert _firsts(lab.messages())[-2:] == ["BYE", "SIP/2.0 200"]


@pytest.mark.django_db
def test_a_staff_leg_nobody_answers_calls_nobody_and_sets_the_staff_member_away(
    monday: None, portfolio: Portfolio, pbx: Callable[..., Pbx]
) -> None:
    lab = pbx("staff_unanswered.xml")
    attempt = _placed(portfolio)
    assert lab.agent.take(timeout=1) == attempt.pk
    assert lab.agent.attempt_run(attempt.pk) == "staff_unanswered"
    assert lab.finished() == 0, lab.errors.read_text(errors="replace")
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.attempts) == (TaskStatus.PENDING, 0)
    assert StaffPresence.objects.get(user=portfolio.staff_a).state == PresenceState.AWAY
    assert "REFER " not in lab.messages()


@pytest.mark.django_db
def test_a_staff_leg_dropped_during_the_transfer_counts_as_abandoned(
    monday: None, portfolio: Portfolio, pbx: Callable[..., Pbx]
) -> None:
    lab = pbx("staff_drops_during_transfer.xml")
    attempt = _placed(portfolio)
    assert lab.agent.take(timeout=1) == attempt.pk
    assert lab.agent.attempt_run(attempt.pk) == "abandoned"
    assert lab.finished() == 0, lab.errors.read_text(errors="replace")
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.ABANDONED and attempt.abandoned


@pytest.mark.django_db(transaction=True)
def test_a_dnc_request_while_the_staff_leg_rang_stops_the_refer(
    monday: None, portfolio: Portfolio, pbx: Callable[..., Pbx]
) -> None:
    lab = pbx("staff_answers_late_no_refer.xml")
    attempt = _placed(portfolio)
    stopped = threading.Event()

    # The agent runs as its own process would: its own thread, its own database connection.
    def serve() -> None:
        try:
            lab.agent.run(stop=stopped.is_set)
        finally:
            connection.close()

    runner = threading.Thread(target=serve)
    runner.start()
    try:
        wait_for(lambda: "SIP/2.0 180 Ringing" in lab.messages(), 10)
        dnc_request_record(
            number=NUMBER_A, source="call", note="", actor=SYSTEM, program_id=portfolio.program_a.pk
        )
        wait_for(lambda: CallAttempt.objects.filter(pk=attempt.pk).exclude(outcome="").exists(), 20)
        assert lab.finished() == 0, lab.errors.read_text(errors="replace")
    finally:
        stopped.set()
        runner.join(timeout=10)
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.WITHDRAWN
    task = CallTask.objects.get(pk=attempt.task_id)
    assert (task.status, task.attempts) == (TaskStatus.CANCELLED, 0)
    messages = lab.messages()
    assert "REFER " not in messages and NUMBER_A not in messages  # the contact was never called
    assert _firsts(messages)[-2:] == ["BYE", "SIP/2.0 200"]  # the staff leg was ended
    assert sip_redis().llen(WORKING) == 0
