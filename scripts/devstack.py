#!/usr/bin/env python3
"""Run the project, or a command, with PostgreSQL and Redis available.

    python scripts/devstack.py exec -- CMD ARGS...   (make test, make bench)
    python scripts/devstack.py run                   (make run)

The launcher lives in the ``scripts/devstack/`` package (see its docstring);
this file keeps the command that the Makefile, CI and the README use.
"""

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on the path: put the repository
# there so that the package is imported under its one name, scripts.devstack.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.devstack.cli import main

if __name__ == "__main__":
    sys.exit(main())
