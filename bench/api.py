"""The REST API under a production server: POST /eligibility/ and POST /callbacks/.

    python bench/api.py            # 3 rounds of 10 s per endpoint, each after a 2 s warm-up
    python bench/api.py --quick    # 1 round of 2 s per endpoint (smoke run)

1. Creates a throw-away database (`test_<name>` of DATABASE_URL), migrates it
   and seeds one program (callback queue, every day), 1,000 contacts with a
   number each, an API client, and the DNC registries as production has them:
   a national list (a tenth of the contacts on it), a Florida list, and the
   index built from them.
2. Starts granian (`config.wsgi`, production settings, DEBUG off, 2 workers
   of 4 threads) on a free loopback port, with the throttle raised out of the way
   and Redis on a database of its own (REDIS_BENCH_DB, default 15).
3. 16 clients (one asyncio loop, a keep-alive connection each) send requests
   back to back for the duration: eligibility of a known number, and callbacks
   for new numbers, each with its own Idempotency-Key.
4. Stops the server (its pid only), drops the database and the Redis keys it made.

Prints the machine, each round, then the medians of the rounds:
`eligibility_rps`, `eligibility_p50_ms`, `eligibility_p99_ms`,
`callbacks_rps`, `callbacks_p99_ms` (and p50 of callbacks, CPU per request of
the server and of the database, errors). Rounds vary with what else the host
runs; CPU per request varies less. Any non-2xx answer is counted and reported; the run
fails if there is one (BENCH_SHOW_ERRORS=1 prints their bodies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.decide import machine  # noqa: E402
from bench.seed import registry_seed  # noqa: E402
from bench.server import (  # noqa: E402
    cpu_seconds,
    cpu_used,
    free_port,
    redis_cleanup,
    start_server,
    wait_ready,
)
from dnc.index import index_dir  # noqa: E402

CLIENTS = 16
ELIGIBILITY = "/api/v1/eligibility/"
CALLBACKS = "/api/v1/callbacks/"
WORKERS = 2
THREADS = 4
CONTACTS = 1_000
SEED = 20261127
AREA_CODES = ("212", "305", "312", "415", "602", "713", "206", "303", "404", "617")


def _numbers(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    from common.phones import try_e164

    found: list[str] = []
    while len(found) < n:
        raw = f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        e164 = try_e164(raw)
        if e164 and e164 not in taken:
            taken.add(e164)
            found.append(e164)
    return found


def seed(rng: random.Random) -> tuple[str, list[str]]:
    """A program with a callback queue open every day, contacts, and an API client's token."""
    from audit.actors import actor_system
    from campaigns.models import ALL_DAYS
    from campaigns.services import PhoneInput, contact_create, program_create, queue_create
    from dialer.api.clients import api_client_create

    actor = actor_system("bench")
    program = program_create(slug="bench", legal_name="Bench", state="NY", actor=actor)
    queue_create(
        program=program,
        slug="callback",
        name="Callbacks",
        purpose="callback",
        script="Hello, returning your call.",
        actor=actor,
        days=ALL_DAYS,
    )
    numbers = _numbers(rng, CONTACTS, set())
    for i, e164 in enumerate(numbers):
        contact_create(
            program=program,
            phones=[PhoneInput(e164, provided_by_patient=True)],
            actor=actor,
            external_id=f"B{i}",
            first_name="Pat",
            last_name="Doe",
        )
    _, token = api_client_create(program=program, name="bench", actor=actor)
    registry_seed(rng, numbers)
    return token, numbers


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu: tuple[float, float, float] | None = None  # server, database, client seconds


def _request(path: str, token: str, extra: dict[str, str], body: dict[str, str]) -> bytes:
    payload = json.dumps(body).encode()
    headers = {
        "Host": "127.0.0.1",
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
        "Content-Length": str(len(payload)),
        **extra,
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One request on a keep-alive connection; the answer's status and body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def load(port: int, make: Any, seconds: float, warmup: float, cpu: Any = None) -> Result:
    """CLIENTS connections, each keep-alive, requests back to back for `seconds`.

    One asyncio loop writes encoded requests (`make()` gives the next one's bytes)
    and reads the answers: a client light enough not to take much of the CPU
    the server is measured on.
    """
    result = Result()

    async def client(start: float, stop: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        while True:
            request = make()
            sent = loop.time()
            if sent >= stop:
                break
            try:
                status, answer = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                status, answer = 599, b""
            if status >= 300 and os.environ.get("BENCH_SHOW_ERRORS"):
                print(status, answer[:300], file=sys.stderr)
            if sent >= start:
                if 200 <= status < 300:
                    result.latencies.append(loop.time() - sent)
                else:
                    result.errors[status] = result.errors.get(status, 0) + 1
        writer.close()

    async def measure_cpu(start: float, stop: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start - loop.time()))
        before, own = cpu(), time.process_time()
        await asyncio.sleep(max(0.0, stop - loop.time()))
        server, database = cpu_used(before, cpu())
        result.cpu = (server, database, time.process_time() - own)

    async def run() -> None:
        start = asyncio.get_running_loop().time() + warmup
        stop = start + seconds
        jobs = [client(start, stop) for _ in range(CLIENTS)]
        if cpu is not None:
            jobs.append(measure_cpu(start, stop))
        await asyncio.gather(*jobs)

    asyncio.run(run())
    result.elapsed = seconds
    return result


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _figures(result: Result) -> dict[str, float]:
    count = len(result.latencies)
    figures = {
        "rps": count / result.elapsed,
        "p50_ms": statistics.median(result.latencies) * 1000,
        "p99_ms": _pct(result.latencies, 0.99),
    }
    if result.cpu is not None:
        figures["server_cpu_ms_per_request"] = result.cpu[0] / count * 1000
        figures["database_cpu_ms_per_request"] = result.cpu[1] / count * 1000
        figures["client_cpu_ms_per_request"] = result.cpu[2] / count * 1000
    return figures


def report(name: str, results: list[Result]) -> None:
    """Each round on a line, then the median of the rounds for each figure."""
    errors: dict[int, int] = {}
    for result in results:
        for status, count in result.errors.items():
            errors[status] = errors.get(status, 0) + count
    rounds = [_figures(r) for r in results if r.latencies]
    for index, figures in enumerate(rounds, start=1):
        cpu = ""
        if "server_cpu_ms_per_request" in figures:
            cpu = (
                f", CPU per request {figures['server_cpu_ms_per_request']:.2f} ms server"
                f" + {figures['database_cpu_ms_per_request']:.2f} ms database"
                f" + {figures['client_cpu_ms_per_request']:.2f} ms client"
            )
        print(
            f"  {name} round {index}: {figures['rps']:.0f} /s, p50 {figures['p50_ms']:.1f} ms,"
            f" p99 {figures['p99_ms']:.1f} ms{cpu}"
        )
    print(f"{name}_requests: {sum(len(r.latencies) for r in results)}")
    if rounds:
        units = {"rps": "/s"}
        for key in rounds[0]:
            value = statistics.median(f[key] for f in rounds)
            digits = 0 if key == "rps" else (2 if "cpu" in key else 1)
            print(f"{name}_{key}: {value:.{digits}f} {units.get(key, 'ms')}")
    print(f"{name}_errors: {sum(errors.values())} {errors or ''}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    rounds = args.rounds or (1 if args.quick else 3)
    warmup = 1.0 if args.quick else 2.0
    print(machine())
    print(f"granian: {WORKERS} workers x {THREADS} threads (WSGI), {CLIENTS} clients, loopback")

    rng = random.Random(SEED)
    creation = connection.creation
    db_name = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    server: subprocess.Popen[bytes] | None = None
    failed = False
    try:
        token, known = seed(rng)
        connection.close()
        port = free_port()
        server = start_server(db_name, port, workers=WORKERS, threads=THREADS)
        server_pid = server.pid
        wait_ready(port, token, server)

        # Eligibility asks about known numbers: every request is encoded once, up front.
        asks = [
            _request(ELIGIBILITY, token, {}, {"queue": "callback", "phone": phone})
            for phone in known
        ]

        def eligibility() -> bytes:
            return rng.choice(asks)

        taken = set(known)

        def callback() -> bytes:
            headers = {"Idempotency-Key": uuid.UUID(int=rng.getrandbits(128)).hex}
            body = {"phone": _numbers(rng, 1, taken)[0], "source": "bench"}
            return _request(CALLBACKS, token, headers, body)

        for name, make in (("eligibility", eligibility), ("callbacks", callback)):
            results = [
                load(
                    port,
                    make,
                    seconds,
                    warmup,
                    cpu=lambda: cpu_seconds(server_pid, db_name),
                )
                for _ in range(rounds)
            ]
            report(name, results)
            failed = failed or any(r.errors or not r.latencies for r in results)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        redis_cleanup()
        shutil.rmtree(index_dir(), ignore_errors=True)
        creation.destroy_test_db(db_name, verbosity=0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
