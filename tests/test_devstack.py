"""scripts/devstack.py: embedded servers start, work, and leave nothing behind."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from scripts.devstack import postgres_connect_kwargs, postgres_socket_url

REPO = Path(__file__).resolve().parent.parent
DEVSTACK = [sys.executable, str(REPO / "scripts" / "devstack.py")]
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "PGHOST")
STATUS = re.compile(r"PostgreSQL (embedded|external) \((?:pid (\d+))?.*Redis (embedded|external)")
REDIS_PID = re.compile(r"Redis embedded \(pid (\d+)")

# Runs inside `devstack.py exec` and reports what it reached.
PROBE = """
import json, os, sys
import psycopg, redis
from scripts.devstack import postgres_connect_kwargs
with psycopg.connect(**postgres_connect_kwargs(os.environ["DATABASE_URL"])) as conn:
    db, datadir = conn.execute(
        "SELECT current_database(), current_setting('data_directory')").fetchone()
client = redis.Redis.from_url(os.environ["REDIS_URL"])
client.set("devstack-probe", "1")
info = client.info("server")
print(json.dumps({"db": db, "datadir": datadir, "redis_pid": info["process_id"],
                  "redis_port": info["tcp_port"]}))
sys.exit(3)
"""


def embedded_env(**extra: str) -> dict[str, str]:
    """This environment without the servers `make test` may have provided."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env["PYTHONPATH"] = str(REPO)
    return env | extra


def gone(pid: int, started_before: float) -> bool:
    """No process with this pid that existed before ``started_before`` still runs."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() > started_before or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], started_before: float, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if not gone(pid, started_before)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Output:
    """Collects a child's merged output lines in a thread, so it never blocks."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if needle in line:
                return line
        pytest.fail(f"no {needle!r} in output:\n{self.text()}")

    def text(self) -> str:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)


def test_socket_url_reads_the_same_in_django_environ_and_django(tmp_path: Path) -> None:
    socket_dir = tmp_path / "a dir" / "pgdata"
    url = postgres_socket_url(socket_dir, "callorch")
    import environ

    cfg = environ.Env.db_url_config(url)
    assert cfg["ENGINE"] == "django.db.backends.postgresql"
    assert (cfg["NAME"], cfg["USER"]) == ("callorch", "postgres")
    # django-environ keeps the socket dir as a libpq option; Django's backend uses it as host.
    assert cfg["HOST"] == ""
    assert cfg["OPTIONS"]["host"] == str(socket_dir)
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = {
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
    }
    params = DatabaseWrapper({**settings, **cfg}).get_connection_params()
    assert (params["host"], params["dbname"], params["user"]) == (
        str(socket_dir),
        "callorch",
        "postgres",
    )
    assert postgres_connect_kwargs(url)["host"] == str(socket_dir)
    assert "port=6543" in postgres_socket_url(socket_dir, "x", 6543)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_exec_starts_embedded_servers_and_leaves_nothing() -> None:
    started = time.time()
    done = subprocess.run(
        [*DEVSTACK, "exec", "--", sys.executable, "-c", PROBE],
        env=embedded_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 3, done.stderr  # the command's own exit code
    status = STATUS.search(done.stderr)
    assert status, done.stderr
    assert (status[1], status[3]) == ("embedded", "embedded"), done.stderr
    pg_pid, redis_pid = int(status[2]), int(REDIS_PID.search(done.stderr)[1])  # type: ignore[index]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["db"] == "callorch"
    assert seen["redis_pid"] == redis_pid
    assert seen["redis_port"] != 6379  # never the machine's own Redis
    assert Path(seen["datadir"]).name == "pgdata"
    assert wait_gone([pg_pid, redis_pid], started) == []
    assert not Path(seen["datadir"]).parent.exists()  # the temporary data dir is removed


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_exec_stops_everything_on_sigterm() -> None:
    started = time.time()
    proc = subprocess.Popen(
        [*DEVSTACK, "exec", "--", sys.executable, "-c",
         "import time; print('command up', flush=True); time.sleep(120)"],
        env=embedded_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    out = Output(proc)
    try:
        out.wait_for("command up", 40)
        status = STATUS.search(out.text())
        assert status and status[2], out.text()
        pids = [int(status[2]), int(REDIS_PID.search(out.text())[1])]  # type: ignore[index]
        pids += [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(pids, started) == [], out.text()


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_exec_uses_reachable_external_servers() -> None:
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        pytest.skip("DATABASE_URL/REDIS_URL not set (run through make test)")
    show_url = "import os; print(os.environ['REDIS_URL'])"
    done = subprocess.run(
        [*DEVSTACK, "exec", "--", sys.executable, "-c", show_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=25,
    )
    assert done.returncode == 0, done.stderr
    status = STATUS.search(done.stderr)
    assert status and (status[1], status[3]) == ("external", "external"), done.stderr
    assert done.stdout.strip() == os.environ["REDIS_URL"]


def demo_login(text: str) -> tuple[str, str]:
    """The demo user and password from seed_demo's output ("Login: USER / PASSWORD")."""
    found = re.search(r"login\w*\s*[:=]?\s*(\S+)\s*/\s*(\S+)", text, re.IGNORECASE)
    if found:
        return found[1], found[2]
    user = re.search(r"user(?:name)?\s*[:=]\s*(\S+)", text, re.IGNORECASE)
    password = re.search(r"password\s*[:=]\s*(\S+)", text, re.IGNORECASE)
    if user and password:
        return user[1], password[1]
    pytest.fail(f"no 'Login: USER / PASSWORD' line in the run output:\n{text}")


def demo_totp_secret(text: str) -> str:
    """The demo users' second factor from seed_demo's output ("TOTP secret BASE32")."""
    found = re.search(r"TOTP secret ([A-Z2-7]+)", text)
    if not found:
        pytest.fail(f"no 'TOTP secret' in the run output:\n{text}")
    return found[1]


def admin_login(base: str, user: str, password: str, totp_secret: str) -> str:
    """Sign in through the real pages: the password, then the code of the demo's authenticator."""
    from django_otp.oath import totp

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def post_form(url: str, fields: dict[str, str]) -> tuple[str, str]:
        with opener.open(url, timeout=20) as page:
            assert page.status == 200
            form = page.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token, form[:500]
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token[1], **fields}).encode()
        request = urllib.request.Request(  # noqa: S310 (http to our own test server)
            url, data=body, headers={"Referer": url}
        )
        with opener.open(request, timeout=20) as page:
            assert page.status == 200
            return page.geturl(), page.read().decode()

    at, _ = post_form(
        f"{base}/admin/login/?next=/admin/",
        {"username": user, "password": password, "next": "/admin/"},
    )
    assert at.startswith(f"{base}/admin/login/code/"), at
    code = f"{totp(base64.b32decode(totp_secret)):06d}"
    at, page = post_form(at, {"otp_token": code, "next": "/admin/"})
    assert at == f"{base}/admin/", at
    return page


def celery_pong(env: dict[str, str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "3"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "pong" in done.stdout or time.monotonic() > deadline:
            return done.stdout + done.stderr
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_run_serves_admin_and_worker_then_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    if not (REPO / "dialer" / "management" / "commands" / "seed_demo.py").exists():
        pytest.skip("the dialer app has no seed_demo command yet, which `run` needs")
    datadir = tmp_path / "ds"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = embedded_env(DEVSTACK_DIR=str(datadir), PORT=str(port))
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_HASH_KEY", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    started = time.time()
    proc = subprocess.Popen(
        [*DEVSTACK, "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = Output(proc)
    try:
        out.wait_for(f"devstack: ready: http://127.0.0.1:{port}/admin/", 75)
        out.wait_for("Ctrl-C stops everything", 5)
        user, password = demo_login(out.text())

        # Everything it started, before asking it to stop.
        pids = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        postmaster = int((datadir / "pgdata" / "postmaster.pid").read_text().split()[0])
        pids += [postmaster, *(p.pid for p in psutil.Process(postmaster).children())]
        run_env = dict(
            line.split("=", 1)
            for line in shlex.split((datadir / "run.env").read_text(), comments=True)
        )
        redis_port = urllib.parse.urlsplit(run_env["REDIS_URL"]).port
        assert redis_port and redis_port != 6379

        page = admin_login(f"http://127.0.0.1:{port}", user, password, demo_totp_secret(out.text()))
        assert "Site administration" in page or "Log out" in page, page[:500]
        pong = celery_pong(env | run_env, timeout=30)
        assert "pong" in pong, f"{pong}\n--- devstack run output:\n{out.text()}"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0, out.text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_gone(pids, started) == [], out.text()
    assert not listening(port)
    assert not listening(redis_port)
    assert not (datadir / "pgdata" / "postmaster.pid").exists()
    assert (datadir / "secrets.env").exists() and not (datadir / "run.env").exists()
