"""The server side of bench/api.py: a granian server on a free port over the bench's
database, waiting for it, the CPU its processes (and the database's) use, and the
Redis keys a run leaves behind.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{os.environ.get('REDIS_BENCH_DB', '15')}"))


def start_server(db_name: str, port: int, *, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": with_db(os.environ["DATABASE_URL"], db_name),
        "REDIS_URL": redis_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "10000000/min",
        "DEBUG": "false",
    }
    command = [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "wsgi",
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-ws",
        "config.wsgi:application",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_ready(port: int, token: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/queues/", headers={"Authorization": f"Token {token}"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer within 60 s")


def cpu_seconds(server_pid: int, db_name: str) -> dict[int, float]:
    """CPU used so far by each process of the server (main and workers) and of this
    database's backends, by pid; the keys of the database's are negative.

    Throughput depends on what else the machine runs; CPU per request does not
    much, so it says what an idle machine would do (cores / CPU per request).
    """
    import psutil

    def used(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    found: dict[int, float] = {}
    try:
        master = psutil.Process(server_pid)
        for proc in (master, *master.children(recursive=True)):
            found[proc.pid] = used(proc)
    except psutil.Error:
        pass
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if db_name in " ".join(proc.info["cmdline"] or []) and proc.pid != os.getpid():
                found[-proc.pid] = used(proc)
        except psutil.Error:
            continue
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
    """Server and database CPU between two readings. A process that ended in between
    is left out (what it used since `before` is lost): a lower bound, never negative."""
    server = database = 0.0
    for pid, seconds in after.items():
        spent = seconds - before.get(pid, 0.0)
        if pid >= 0:
            server += spent
        else:
            database += spent
    return server, database


def redis_cleanup() -> None:
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        keys = [
            k
            for pattern in ("*throttle_client_*", "dispatch", "_kombu.*", "unacked*")
            for k in client.scan_iter(match=pattern)
        ]
        if keys:
            client.delete(*keys)
    finally:
        client.close()
