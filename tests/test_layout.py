"""The package layout follows the pipeline (DESIGN §2): no module imports another that imports it back,
directly or through others — lazy, function-level imports included — and the old import paths still work."""

import ast
import importlib
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mtmrules"
SHIMS = {"mtmrules.fhir", "mtmrules.cdshooks", "mtmrules.dask"}   # deprecated re-exports, nothing imports them


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mtmrules"):
                for alias in node.names:  # `from mtmrules.adapters import fhir` names a module
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("mtmrules")}
        graph[name] = {t for t in targets if t in modules and t != name and t != "mtmrules"}
    return graph


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" → ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state and node not in SHIMS:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_rooms_follow_the_pipeline():
    """Lower layers never reach up: knowledge and profiles know nothing of adapters, engine, reports,
    services or population work; the engine knows nothing of adapters beyond the native profile reader,
    services or population work."""
    graph = import_graph()
    forbidden = {
        "mtmrules.profile": ("mtmrules.adapters", "mtmrules.engine", "mtmrules.report", "mtmrules.service",
                             "mtmrules.population", "mtmrules.session", "mtmrules.knowledge"),
        "mtmrules.knowledge": ("mtmrules.adapters", "mtmrules.engine", "mtmrules.report", "mtmrules.service",
                               "mtmrules.population", "mtmrules.session"),
        "mtmrules.adapters": ("mtmrules.engine", "mtmrules.report", "mtmrules.service", "mtmrules.population",
                              "mtmrules.session"),
        "mtmrules.engine": ("mtmrules.service", "mtmrules.session", "mtmrules.cli"),
    }
    wrong = [f"{src} → {dst}" for src, targets in graph.items() for dst in targets
             for room, banned in forbidden.items() if src.startswith(room + ".") or src == room
             if dst.startswith(banned)]
    assert not wrong, wrong


@pytest.mark.parametrize("old, new, name", [
    ("mtmrules.fhir", "mtmrules.adapters.fhir", "profiles_from_resources"),
    ("mtmrules.fhir", "mtmrules.adapters.bulk", "read_bulk"),
    ("mtmrules.cdshooks", "mtmrules.service.cdshooks", "CdsHooksService"),
    ("mtmrules.cdshooks", "mtmrules.service.app", "create_app"),
    ("mtmrules.dask", "mtmrules.population.dask", "screen"),
])
def test_old_import_paths_still_work_with_a_deprecation_warning(old, new, name):
    import sys
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert any(issubclass(w.category, DeprecationWarning) and new.rsplit(".", 1)[0] in str(w.message) for w in caught)
