"""The engine's layers import only downward, and its modules import each other without cycles.

Layers, lowest first (a module may import its own layer and those below):
0. ``engine`` basics: atomic, cancel, device, transcript
1. ``engine.audio``, ``engine.midi``
2. ``engine.models`` (each family), ``engine.live``, ``engine.notes`` (pitch models' outputs to notes)
3. ``engine.jobs``, ``engine.tasks``, ``engine.batch`` (its workers load models as the tasks do)
4. ``engine.cli``
``gui`` sits above all of it and ``engine`` never imports Qt (tests/cli/test_cli.py).
Imports inside functions count too: they defer loading, but still tie the modules together.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [("engine.atomic", "engine.cancel", "engine.device", "engine.transcript"),
          ("engine.audio", "engine.midi"),
          ("engine.models", "engine.live", "engine.notes"),
          ("engine.jobs", "engine.tasks", "engine.batch"),
          ("engine.cli",)]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for every ``engine`` import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith("engine"):
                found.append((name, id(node) in top))
    return found


def graph() -> dict[str, list[tuple[str, bool]]]:
    return {module_name(p): imports(p) for p in (ROOT / "engine").rglob("*.py")}


def test_layers_import_only_downward():
    upward = []
    for module, imported in graph().items():
        here = layer_of(module)
        for name, _ in imported:
            there = layer_of(name)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_no_import_cycles():
    modules = graph()
    edges = {m: sorted({n for n, _ in imported if n in modules and n != m}) for m, imported in modules.items()}
    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for n in edges[m]:
            if state.get(n) == "open":
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_every_engine_module_has_a_layer():
    assert [m for m in graph() if m != "engine" and layer_of(m) is None] == []
