"""Run the project, or a command, with PostgreSQL and Redis available.

The command line of ``scripts/devstack.py``: ``exec -- CMD ARGS...`` and ``run``.
"""

from __future__ import annotations

import argparse
import signal

from .command import cmd_exec
from .core import LATCH, DevstackError, Interrupted, log
from .run import cmd_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    run_exec = sub.add_parser("exec", help="run CMD with DATABASE_URL and REDIS_URL working")
    run_exec.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    sub.add_parser("run", help="migrate, seed the demo, serve web + worker + beat")
    args = parser.parse_args(argv)

    LATCH.install()
    try:
        if args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return cmd_exec(cmd)
        return cmd_run()
    except DevstackError as exc:
        log(f"error: {exc}")
        return 1
    except Interrupted as exc:
        log(f"interrupted by {exc}; everything started was stopped")
        return 128 + exc.signum
    except Exception:
        # A terminal Ctrl-C also reaches short helpers in our group (initdb,
        # pg_ctl), which then fail: report that as the interruption it is.
        if LATCH.signum is None:
            raise
        log(f"interrupted by {signal.Signals(LATCH.signum).name}; everything started was stopped")
        return 128 + LATCH.signum
