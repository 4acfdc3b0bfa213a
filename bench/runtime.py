"""Benchmark of the runtime: speed to lead, and one planner tick over a big backlog.

    python bench/runtime.py          # 200 callbacks, 100,000 due tasks, 1,000,000 in 50 queues
    python bench/runtime.py --quick  # 20 callbacks, 2,000 due tasks, 2,000 in 2 queues (smoke)
    python bench/runtime.py --big-tasks 200000 --queues 10    # a smaller portfolio tick
    python bench/runtime.py --no-big   # without the portfolio tick

Speed to lead: from POST /api/v1/callbacks/ (the API's whole Django stack, called
in this process) to the moment a real Celery worker process (prefork, two
processes, on the real Redis) calls the backend's `place()` for that callback,
on the system-wide monotonic clock; one callback at a time, after warm-up ones.
Planner: `plan_queue` over the due tasks of one queue in one tick: facts loaded
from PostgreSQL, decisions, the set-based write-back, and the allowed tasks
handed over to Redis in chunks.
Portfolio tick: 1,000,000 due tasks in 50 queues (each in a program of its own),
seeded with COPY (its time is printed, not counted); a real worker (prefork, two
processes) takes the 50 `plan_queue_task` messages beat would send, and the figure
runs from the first message to the moment the database holds no pending task due
before it that is not leased (every one decided and handed over). The handed-over
chunks go to a Redis queue nobody consumes, so no dispatch runs meanwhile; it is
deleted at the end.

Everything runs in a throw-away database (`bench_runtime_<pid>`, created,
migrated and dropped here) and on a Redis queue of its own (deleted at the
end). Calls must be allowed now: the contacts live where the calling window
is open; when it is open nowhere in the US (about 06:00-14:00 UTC), this
process and the worker shift their clocks by the same offset (time-machine)
to a US afternoon, which leaves the monotonic clock of the measure alone.
Prints `speed_to_lead_p50_s`, `speed_to_lead_p95_s`, `planner_100k_s`
(`planner_<n>_s` with --quick or --tasks) and `planner_1m_s` (`planner_<n>x<queues>_s`
with --quick, --big-tasks or --queues).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import pytz  # noqa: E402
import redis  # noqa: E402
import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.decide import machine  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from dnc.index import index_dir  # noqa: E402

QUEUE_ENV = "BENCH_RUNTIME_QUEUE"
PLAN_QUEUE_ENV = "BENCH_RUNTIME_PLAN_QUEUE"  # set: the worker plans, and dispatches nothing
PLACED_ENV = "BENCH_RUNTIME_PLACED_KEY"
OFFSET_ENV = "BENCH_RUNTIME_CLOCK_OFFSET_S"
WARM_UP = 5


@dataclass(frozen=True)
class Place:
    zone: str
    area_code: str
    state: str
    postal_code: str


PLACES = (
    Place("America/New_York", "212", "NY", "10001"),
    Place("America/Chicago", "312", "IL", "60601"),
    Place("America/Denver", "303", "CO", "80202"),
    Place("America/Los_Angeles", "213", "CA", "90012"),
    Place("Pacific/Honolulu", "808", "HI", "96813"),
)


def _slack(at: datetime, zone: str) -> timedelta:
    """How far `at` is inside 10:00-19:00 local (the queue's window with an hour's margin)."""
    local = at.astimezone(pytz.timezone(zone))
    start = local.replace(hour=10, minute=0, second=0, microsecond=0)
    end = local.replace(hour=19, minute=0, second=0, microsecond=0)
    return min(local - start, end - local)


def choose_place(now: datetime) -> tuple[Place, float]:
    """A place where calls are allowed now, or after shifting the clock to 17:00 UTC."""
    best = max(PLACES, key=lambda p: _slack(now, p.zone))
    if _slack(now, best.zone) > timedelta(0):
        return best, 0.0
    target = now.replace(hour=17, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    offset = (target - now).total_seconds()
    return max(PLACES, key=lambda p: _slack(target, p.zone)), offset


def _shift_clock(offset: float) -> None:
    if offset:
        time_machine.travel(time.time() + offset, tick=True).start()


def _route_dispatch_to(queue: str, plan_queue: str = "bulk") -> None:
    """This run's dispatch messages go to a queue of its own (no other worker takes them),
    and its planning messages to `plan_queue`; the first matching route wins, so these
    come before the `bulk_` pattern."""
    celery_app.conf.task_routes = {
        "dialer.dispatch": {"queue": queue},
        "dialer.bulk_dispatch_planned": {"queue": queue},
        "dialer.bulk_plan_queue": {"queue": plan_queue},
        "*.bulk_*": {"queue": "bulk"},
    }


# --- the worker process ------------------------------------------------------------------


def worker_main() -> int:
    """A real Celery worker whose preview backend notes when `place()` is called."""
    from dialer.backends.preview import PreviewBackend

    _shift_clock(float(os.environ.get(OFFSET_ENV, "0")))
    plan_queue = os.environ.get(PLAN_QUEUE_ENV)
    if plan_queue:  # the portfolio tick: plan, and hand over to a queue nobody takes
        _route_dispatch_to(os.environ[QUEUE_ENV], plan_queue)
        return _worker_run(plan_queue)
    queue, key = os.environ[QUEUE_ENV], os.environ[PLACED_ENV]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    original = PreviewBackend.place

    def place(self: PreviewBackend, attempt: Any) -> str:
        broker.rpush(key, json.dumps({"task": attempt.task_id, "at": time.monotonic()}))
        return original(self, attempt)

    PreviewBackend.place = place  # type: ignore[method-assign]
    return _worker_run(queue)


def _worker_run(queue: str) -> int:
    celery_app.worker_main(
        [
            "worker",
            "-Q",
            queue,
            "-c",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{queue}@%h",
        ]
    )
    return 0


# --- the benchmark ---------------------------------------------------------------------------


def _database_url() -> str:
    """DATABASE_URL with this run's database name: its host, port or socket directory kept."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def _program(place: Place, slug: str) -> Any:
    from datetime import time as clock

    from audit.actors import actor_system
    from campaigns.models import ALL_DAYS
    from campaigns.services import program_create, queue_create

    actor = actor_system("bench")
    program = program_create(
        slug=slug, legal_name=slug.title(), state=place.state, timezone=place.zone, actor=actor
    )
    queue = queue_create(
        program=program,
        slug="callbacks",
        name="Callbacks",
        purpose="callback",
        script="Hello, returning your call.",
        actor=actor,
        days=ALL_DAYS,
        window_start=clock(9),
        window_end=clock(20),
    )
    return program, queue


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    log: Any  # the temporary file its output goes to

    def died(self) -> bool:
        return self.process.poll() is not None

    def fail(self, why: str) -> NoReturn:
        """Stop the bench, with the end of the worker's output."""
        self.log.flush()
        raise SystemExit(f"{why}\n{Path(self.log.name).read_text(errors='replace')[-3000:]}")


@contextmanager
def _worker(env: dict[str, str], name: str, *, stop_within: float) -> Iterator[_Worker]:
    """This script as a Celery worker (`--worker`) on the bench's database, with `env`
    added; a warm shutdown at the end (SIGTERM), killed if it takes over `stop_within` s."""
    log = tempfile.NamedTemporaryFile(prefix=f"bench-runtime-{name}-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _database_url(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield _Worker(process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=stop_within)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def speed_to_lead(place: Place, n: int, queue: str, offset: float) -> list[float]:
    """Seconds from each POST to its `place()` in the worker process, one callback at a time."""
    from django.test import Client

    from audit.actors import actor_system
    from dialer.api.clients import api_client_create

    program, _ = _program(place, "bench-callbacks")
    _, token = api_client_create(program=program, name="bench", actor=actor_system("bench"))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    key = f"bench:runtime:{uuid.uuid4().hex}"
    # BLPOP waits up to a minute: the socket must wait longer than that.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=90)
    env = {QUEUE_ENV: queue, PLACED_ENV: key, OFFSET_ENV: str(offset)}
    latencies: list[float] = []
    try:
        with _worker(env, "worker", stop_within=30) as worker:
            for i in range(WARM_UP + n):
                posted = time.monotonic()
                response = client.post(
                    "/api/v1/callbacks/",
                    {
                        "phone": f"+1{place.area_code}555{i:04d}",
                        "state": place.state,
                        "postal_code": place.postal_code,
                        "source": "bench",
                    },
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=f"bench-{i}",
                )
                body = response.json()
                if response.status_code != 201 or not body["decision"]["allowed"]:
                    raise SystemExit(f"callback {i} was not allowed: {response.status_code} {body}")
                task_id = body["task"]["id"]
                # The first ones also wait for the worker to start.
                timeout = 60 if i < WARM_UP else 10
                while True:
                    found = broker.blpop([key], timeout=timeout)
                    if found is None:
                        worker.fail(f"callback {i} was not placed within {timeout} s")
                    record = json.loads(found[1])
                    if record["task"] == task_id:
                        break
                if i >= WARM_UP:
                    latencies.append(record["at"] - posted)
    finally:
        broker.delete(key)
        broker.close()
    return latencies


def _registry(place: Place, n: int) -> None:
    """The registries as production has them (bench.seed.registry_seed) over the numbers
    the ticks call, loaded before any phone exists: each phone is seeded with its
    registries' answer, as the minute's refresh keeps it, and a tick reads no number."""
    import random

    from bench.seed import registry_seed

    numbers = [f"+1{place.area_code}{200 + i // 10_000}{i % 10_000:04d}" for i in range(n)]
    registry_seed(random.Random(20261203), numbers)


def _seed_backlog(place: Place, n: int) -> int:
    from django.utils import timezone

    from bench.seed import due_callbacks_create
    from campaigns.models import Contact

    _, queue = _program(place, "bench-backlog")
    now = timezone.now()
    numbers = [f"+1{place.area_code}{200 + i // 10_000}{i % 10_000:04d}" for i in range(n)]
    due_callbacks_create(
        queue=queue,
        contacts=[Contact(program=queue.program, state=place.state) for _ in range(n)],
        numbers=numbers,
        requested_at=now - timedelta(minutes=30),
        due_at=now - timedelta(minutes=1),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return int(queue.pk)


def planner_tick(place: Place, n: int) -> tuple[float, Any]:
    from dialer.runtime.planner import plan_queue
    from dialer.tasks import _enqueue_dispatch

    queue_id = _seed_backlog(place, n)
    started = time.perf_counter()
    result = plan_queue(queue_id=queue_id, enqueue=_enqueue_dispatch, max_batches=n // 1000 + 2)
    return time.perf_counter() - started, result


def _seed_portfolio(place: Place, n: int, queues: int) -> list[int]:
    """`n` due callbacks spread over `queues` queues, each in a program of its own (COPY)."""
    from django.utils import timezone

    from bench.seed import due_callbacks_many
    from campaigns.models import Contact

    now = timezone.now()
    ids = []
    for q in range(queues):
        program, queue = _program(place, f"bench-portfolio-{q}")
        share = range(q * n // queues, (q + 1) * n // queues)
        due_callbacks_many(
            queue=queue,
            contact=Contact(program=program, state=place.state),
            numbers=[f"+1{place.area_code}{200 + i // 10_000}{i % 10_000:04d}" for i in share],
            requested_at=now - timedelta(minutes=30),
            due_at=now - timedelta(minutes=1),
        )
        ids.append(int(queue.pk))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ids


# Whether a task due before the tick is still pending and not leased: a probe per queue
# on the planner's own index (a count would scan what is left, ten times a second).
_NOT_PLANNED = """
SELECT EXISTS (
    SELECT 1 FROM dialer_calltask
     WHERE status = 'pending' AND next_attempt_at <= %s AND queue_id = ANY(%s)
)
"""


def portfolio_tick(
    place: Place, n: int, queues: int, offset: float, dispatch_queue: str
) -> tuple[float, int, int]:
    """Seconds from the first planning message to every due task leased or refused, with
    a real worker (prefork, two processes); the tasks handed over and the chunks queued."""
    from dialer.tasks import plan_queue_task

    started = time.perf_counter()
    queue_ids = _seed_portfolio(place, n, queues)
    print(f"seeded {n} due tasks in {queues} queues in {time.perf_counter() - started:.1f} s")
    plan_queue = _plan_queue_of(dispatch_queue)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(dispatch_queue)  # the chunks of the ticks before: only this tick's are counted
    env = {QUEUE_ENV: dispatch_queue, PLAN_QUEUE_ENV: plan_queue, OFFSET_ENV: str(offset)}
    try:
        with _worker(env, "planner", stop_within=60) as worker:
            name = f"{plan_queue}@{socket.gethostname()}"
            deadline = time.monotonic() + 60
            while not celery_app.control.ping(destination=[name], timeout=0.5):
                if time.monotonic() > deadline or worker.died():
                    worker.fail("the planning worker did not start")
            due_before = datetime.now(UTC)
            begun = time.perf_counter()
            for queue_id in queue_ids:
                plan_queue_task.delay(queue_id)
            with connection.cursor() as cursor:
                while True:
                    cursor.execute(_NOT_PLANNED, [due_before, queue_ids])
                    if not cursor.fetchone()[0]:
                        break
                    if time.perf_counter() - begun > 1800 or worker.died():
                        worker.fail("the portfolio tick did not finish")
                    time.sleep(0.1)
            elapsed = time.perf_counter() - begun
            # Each batch hands its allowed tasks over on commit: wait for the queue to settle,
            # then count the tasks in its messages (not part of the figure).
            chunks = -1
            while chunks != broker.llen(dispatch_queue):
                chunks = broker.llen(dispatch_queue)
                time.sleep(0.5)
            queued: list[bytes] = broker.lrange(dispatch_queue, 0, -1)  # type: ignore[assignment]
            handed = sum(len(_args_of(raw)[0]) for raw in queued)
    finally:
        broker.delete(plan_queue, f"_kombu.binding.{plan_queue}")
        broker.close()
    return elapsed, handed, chunks


def _plan_queue_of(dispatch_queue: str) -> str:
    return f"{dispatch_queue}-plan"


def _args_of(raw: bytes) -> list[Any]:
    """The arguments of one queued task message (kombu's envelope; Celery's body in base64)."""
    import base64

    args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(raw)["body"]))
    return list(args)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="20 callbacks, 2,000 tasks, 2,000 in 2 queues"
    )
    parser.add_argument("--callbacks", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--big-tasks", type=int, default=None, help="the portfolio tick's tasks")
    parser.add_argument("--queues", type=int, default=None, help="the portfolio tick's queues")
    parser.add_argument("--no-big", action="store_true", help="without the portfolio tick")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()
    callbacks = args.callbacks or (20 if args.quick else 200)
    tasks = args.tasks or (2_000 if args.quick else 100_000)
    big_tasks = args.big_tasks or (2_000 if args.quick else 1_000_000)
    big_queues = args.queues or (2 if args.quick else 50)

    print(machine())
    place, offset = choose_place(datetime.now(UTC))
    _shift_clock(offset)
    shifted = f", clocks shifted by {offset / 3600:.1f} h" if offset else ""
    print(f"contacts in {place.zone}{shifted}")
    queue = f"bench-runtime-{uuid.uuid4().hex[:12]}"
    # Routes are read once, at the first message: set for the whole run here.
    _route_dispatch_to(queue, _plan_queue_of(queue))
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_runtime_{os.getpid()}"
    creation = connection.creation
    original = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        _registry(place, max(tasks, 0 if args.no_big else big_tasks))
        latencies = speed_to_lead(place, callbacks, queue, offset)
        planner_s, result = planner_tick(place, tasks)
        if not args.no_big:
            big = portfolio_tick(place, big_tasks, big_queues, offset, queue)
    finally:
        broker.delete(queue, f"_kombu.binding.{queue}")
        broker.close()
        shutil.rmtree(index_dir(), ignore_errors=True)
        creation.destroy_test_db(original, verbosity=0)

    print(
        f"callbacks: {len(latencies)}  mean {statistics.mean(latencies):.3f} s"
        f"  max {max(latencies):.3f} s"
    )
    print(
        f"planner tick: {tasks} due tasks, {len(result.allowed)} allowed and handed over,"
        f" {result.postponed} postponed, {result.ended} ended"
    )
    print(f"speed_to_lead_p50_s: {_quantile(latencies, 0.50):.3f} s")
    print(f"speed_to_lead_p95_s: {_quantile(latencies, 0.95):.3f} s")
    name = "planner_100k_s" if tasks == 100_000 else f"planner_{tasks}_s"
    print(f"{name}: {planner_s:.2f} s")
    print(f"planner_tasks_per_s: {tasks / planner_s:.0f} /s")
    if not args.no_big:
        big_s, handed, chunks = big
        print(
            f"portfolio tick: {big_tasks} due tasks in {big_queues} queues, two worker"
            f" processes, {handed} handed over in {chunks} chunks"
        )
        name = (
            "planner_1m_s"
            if (big_tasks, big_queues) == (1_000_000, 50)
            else f"planner_{big_tasks}x{big_queues}_s"
        )
        print(f"{name}: {big_s:.2f} s")
        print(f"portfolio_tasks_per_s: {big_tasks / big_s:.0f} /s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
