"""The demo's registry sample, loaded with `load_dnc_registry` (the loader operators use).

Reactivation calls are solicitation: they need a fresh copy of the national
registry for the number's area code and of each candidate state's list. The
demo loads a small sample of each, as of today, and loads it again only once
it is stale.
"""

from __future__ import annotations

import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from dialer.decision.rules_table import RULES
from dialer.management.demo_data import (
    CALLBACKS,
    CONTACTS,
    INTERNAL_DNC,
    PROGRAMS,
    README_NUMBERS,
    REGISTRY_SAMPLE,
)
from dnc.selectors import registry_as_of_many


def demo_registry_load(*, stdout: Any) -> None:
    """Load the registry sample where a demo number's copy is missing or stale.

    1. Every number the demo calls (or the README posts), and the states that keep a
       list among the programs', contacts' and callers' states.
    2. A source is loaded again when one of those numbers has no copy of it, or one
       older than the rules allow; otherwise it is left alone.
    3. The files are written to a temporary directory: one per area code for the
       national list (the FTC's shape), one per state.
    """
    numbers = [row[-1] for rows in CONTACTS.values() for row in rows]
    numbers += [number for _, _, number, _ in CALLBACKS] + INTERNAL_DNC + README_NUMBERS
    states = {spec["state"] for spec in PROGRAMS}
    states |= {row[3] for rows in CONTACTS.values() for row in rows}
    states |= {state for state, _, _, _ in CALLBACKS}
    states &= RULES.state_registries
    today = timezone.now().date()

    def stale(as_of: Any) -> bool:
        return as_of is None or (today - as_of).days > RULES.registry_max_age_days

    copies = registry_as_of_many(numbers=numbers).values()
    due = ["national"] if any(stale(c.national) for c in copies) else []
    due += [
        f"state:{state}"
        for state in sorted(states)
        if any(stale(c.states.get(state)) for c in copies)
    ]
    areas = sorted({number[2:5] for number in numbers})
    with tempfile.TemporaryDirectory(prefix="demo-registry-") as folder:
        for source in due:
            if source == "national":
                files = [_sample(Path(folder), area, [area]) for area in areas]
            else:
                files = [_sample(Path(folder), source[-2:], areas)]
            # The in-memory index is built once, after the last load; the progress
            # lines of a few dozen rows are left out of the demo's output.
            last = source == due[-1]
            call_command(
                "load_dnc_registry",
                "--source",
                source,
                "--full",
                *map(str, files),
                *([] if last else ["--no-index"]),
                stdout=stdout,
                stderr=StringIO(),
            )


def _sample(folder: Path, name: str, areas: list[str]) -> Path:
    path = folder / f"{name}.txt"
    path.write_text("".join(f"{a}555{last}\n" for a in areas for last in REGISTRY_SAMPLE))
    return path
