"""SIP end to end on loopback: baresip places the call, SIPp answers as the called party."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dialer.backends.sip import BaresipAgent, SipBackend
from dialer.models import CallAttempt, Outcome
from tests.conftest import Portfolio
from tests.telephony.conftest import CALLER_ID, attempt_create


def _installed() -> str | None:
    """None when baresip and sipp are present (installed here if missing), else why not."""
    if shutil.which("baresip") and shutil.which("sipp"):
        return None
    if shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "baresip-core", "sip-tester"],
            capture_output=True,
            timeout=600,
        )
    if shutil.which("baresip") and shutil.which("sipp"):
        return None
    return "baresip-core and sip-tester (sipp) are not installed and could not be installed"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("baresip's control port never opened")


@pytest.fixture
def sip_lab(tmp_path: Path, settings: Any) -> Iterator[dict[str, Any]]:
    why = _installed()
    if why:
        pytest.skip(why)
    sip_port, ctrl_port, uas_port = (
        _free_port(socket.SOCK_DGRAM),
        _free_port(socket.SOCK_STREAM),
        _free_port(socket.SOCK_DGRAM),
    )
    message = tmp_path / "message.wav"
    with wave.open(str(message), "wb") as w:  # the recorded message (silence here)
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 3)
    conf = tmp_path / "baresip"
    conf.mkdir()
    (conf / "accounts").write_text("")
    (conf / "contacts").write_text("")
    (conf / "config").write_text(
        f"poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\n"
        "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n"
        f"module_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n"
        f"audio_player aufile,/dev/null\naudio_source aufile,{message}\n"
        "audio_alert aufile,/dev/null\n"
    )
    log = tmp_path / "sipp.msg"
    baresip = subprocess.Popen(
        ["baresip", "-f", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=(tmp_path / "baresip.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    sipp = subprocess.Popen(
        [
            "sipp",
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            str(uas_port),
            "-m",
            "1",
            "-trace_msg",
            "-message_file",
            str(log),
            "-nostdin",
            "-timeout",
            "30s",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings.SIP_CTRL_HOST, settings.SIP_CTRL_PORT = "127.0.0.1", ctrl_port
    settings.SIP_TRUNK_HOST = f"127.0.0.1:{uas_port}"
    agent = BaresipAgent()
    try:
        _wait_port(ctrl_port)
        yield {"agent": agent, "log": log, "sipp": sipp}
    finally:
        agent.close()
        for proc in (sipp, baresip):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _messages(log: Path) -> list[str]:
    """SIPp's trace: the first line of each SIP message and its From header."""
    lines = log.read_text(errors="replace").splitlines()
    return [
        line for line in lines if line.startswith(("INVITE ", "ACK ", "BYE ", "SIP/2.0 ", "From:"))
    ]


def test_a_real_sip_call_is_placed_answered_and_recorded(
    portfolio: Portfolio, sip_lab: dict[str, Any]
) -> None:
    agent: BaresipAgent = sip_lab["agent"]
    attempt = attempt_create(portfolio, portfolio.reactivation_a, "sip")
    backend = SipBackend(agent)
    reference = backend.place(attempt)
    assert reference.startswith("sip:")
    CallAttempt.objects.filter(pk=attempt.pk).update(backend_ref=reference)

    def closed() -> bool:
        return CallAttempt.objects.filter(pk=attempt.pk).exclude(outcome="").exists()

    # Staff took the call: hang up once it is answered, as the end of the call.
    agent.pump(until=closed, timeout=20, on_answer=backend.hangup)
    sip_lab["sipp"].wait(timeout=15)
    attempt.refresh_from_db()
    assert attempt.outcome == Outcome.CONNECTED and attempt.answered
    messages = _messages(sip_lab["log"])
    firsts = [
        m.split()[0] if not m.startswith("SIP/2.0") else " ".join(m.split()[:2])
        for m in messages
        if not m.startswith("From:")
    ]
    for expected in ("INVITE", "SIP/2.0 200", "ACK", "BYE"):
        assert expected in firsts, (expected, firsts)
    assert (
        firsts.index("INVITE")
        < firsts.index("SIP/2.0 200")
        < firsts.index("ACK")
        < firsts.index("BYE")
    )
    invite_from = next(m for m in messages if m.startswith("From:"))
    # Alumni see the neutral name, never the program's legal name, and the program's number.
    assert '"Harbor Group"' in invite_from and f"<sip:{CALLER_ID}@127.0.0.1>" in invite_from
    assert "Program A" not in "\n".join(messages)
