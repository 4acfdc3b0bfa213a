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


# Inside dialer, each part may import only the parts below it (DESIGN.md, "Layout"):
# the pure engine, then the app's own models, services, selectors and refusals,
# the cross-app acts, the telephony backends, what runs by itself, and last the
# entry points (admin pages, the API, Celery tasks, commands, the app config).
DIALER_LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"decision"}),
    frozenset({"models", "rows", "services", "selectors", "refusals", "presence", "listings"}),
    frozenset({"acts"}),
    frozenset({"backends"}),
    frozenset({"runtime"}),
    frozenset({"admin", "api", "tasks", "management", "apps"}),
)
DIALER_LAYER_OF = {part: level for level, parts in enumerate(DIALER_LAYERS) for part in parts}


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # `from dialer import acts` names a part too
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _dialer_part(module: str) -> str | None:
    names = module.split(".")
    return names[1] if names[0] == "dialer" and len(names) > 1 else None


def _dialer_edges() -> dict[str, set[tuple[str, str]]]:
    """part -> {(imported part, importing file)}, between different parts of dialer."""
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in sorted((ROOT / "dialer").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        own = path.relative_to(ROOT / "dialer").with_suffix("").parts[0]
        for module in _imported_modules(path):
            part = _dialer_part(module)
            if part is not None and part != own:
                edges.setdefault(own, set()).add((part, str(path.relative_to(ROOT))))
    return edges


def test_every_part_of_dialer_has_a_layer() -> None:
    parts = {
        path.relative_to(ROOT / "dialer").with_suffix("").parts[0]
        for path in (ROOT / "dialer").glob("*")
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "migrations")
    }
    assert parts - DIALER_LAYER_OF.keys() == set(), "give each new part of dialer/ its layer"
    assert {"decision", "runtime", "acts", "admin", "api", "backends"} <= parts


def test_each_part_of_dialer_imports_only_the_parts_below_it() -> None:
    wrong = sorted(
        f"{where} ({part}) imports dialer.{other}"
        for part, found in _dialer_edges().items()
        for other, where in found
        if DIALER_LAYER_OF[other] > DIALER_LAYER_OF[part]
    )
    assert not wrong, wrong


def test_the_runtime_imports_neither_the_admin_nor_the_api() -> None:
    found = {other for other, _ in _dialer_edges().get("runtime", set())}
    assert found, "the runtime imports parts of dialer: the test must see them"
    assert found & {"admin", "api"} == set()


def test_no_cycle_between_the_parts_of_dialer() -> None:
    graph = {part: {other for other, _ in found} for part, found in _dialer_edges().items()}
    done: set[str] = set()

    def visit(part: str, path: tuple[str, ...]) -> None:
        assert part not in path, "cycle: " + " -> ".join((*path, part))
        if part in done:
            return
        for other in sorted(graph.get(part, ())):
            visit(other, (*path, part))
        done.add(part)

    for part in sorted(graph):
        visit(part, ())


def _registers_a_hook(path: Path, label: str) -> list[str]:
    """Functions that store one of their arguments in a module-level name: a registry in
    disguise, through which a lower app would call code of a higher one it may not import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        module_names = {n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names}
        for inner in ast.walk(node):
            stored = isinstance(inner, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in module_names for t in inner.targets
            )
            appended = (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr in {"append", "add", "setdefault", "update"}
                and isinstance(inner.func.value, ast.Name)
                and inner.func.value.id.startswith("_")
            )
            value = inner.value if isinstance(inner, ast.Assign) else None
            args = inner.args if isinstance(inner, ast.Call) else []
            if (stored and isinstance(value, ast.Name) and value.id in params) or (
                appended and any(isinstance(a, ast.Name) and a.id in params for a in args)
            ):
                found.append(f"{label}: {node.name}")
    return found


def test_no_lower_app_keeps_a_hook_for_a_higher_one() -> None:
    lower = [app for app in MAY_IMPORT if "dialer" not in MAY_IMPORT[app] and app != "dialer"]
    found = [
        hook
        for app in lower
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for hook in _registers_a_hook(path, str(path.relative_to(ROOT)))
    ]
    assert not found, found


def test_the_hook_check_sees_a_registry(tmp_path: Path) -> None:
    """The shape dnc/services.py had: dialer stored its act in dnc when it loaded."""
    module = tmp_path / "services.py"
    module.write_text(
        "_act = None\n_acts = []\n\n\ndef act_register(act):\n    global _act\n    _act = act\n"
        "\n\ndef act_add(*, act):\n    _acts.append(act)\n\n\ndef cache(value):\n"
        "    global _act\n    _act = value + 1\n"
    )
    assert _registers_a_hook(module, "dnc/services.py") == [
        "dnc/services.py: act_register",
        "dnc/services.py: act_add",
    ]
