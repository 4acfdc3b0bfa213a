"""The direction of dependencies of DESIGN.md holds: no app imports one above it.

Every import statement of every module of an app (found by parsing, so an
import inside a function counts too) may name only the apps below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("common", "audit", "dnc", "campaigns", "consent", "dialer", "reports", "access", "config")
# What each app may import, besides itself (DESIGN.md, "Apps and the direction of
# dependencies"; reports holds the data views over everything, like dialer).
MAY_IMPORT = {
    "common": set(),
    "audit": {"common"},
    "dnc": {"common", "audit"},
    "campaigns": {"common", "audit"},
    "consent": {"common", "audit", "campaigns"},
    "dialer": {"common", "audit", "dnc", "campaigns", "consent"},
    "reports": {"common", "audit", "dnc", "campaigns", "consent", "dialer"},
    # Staff sign-in: audits every event, and gives back the call in hand at logoff.
    "access": {"common", "audit", "dialer"},
}


def _imported_apps(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in APPS)
    return found


@pytest.mark.parametrize("app", sorted(MAY_IMPORT))
def test_an_app_imports_only_the_apps_below_it(app: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {other}"
        for path in sorted((ROOT / app).rglob("*.py"))
        for other in _imported_apps(path) - MAY_IMPORT[app] - {app}
    }
    assert not wrong, sorted(wrong)
