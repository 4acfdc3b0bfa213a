"""``python -m scripts.devstack``: the same as ``python scripts/devstack.py``."""

import sys

from .cli import main

sys.exit(main())
