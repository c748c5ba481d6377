"""No file Motet reads can make it run code: every ``torch.load`` passes ``weights_only=True``,
nothing unpickles, ``numpy.load`` never allows pickles. A scan of the code's syntax trees, so a
new loader that forgets it fails here."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("engine", "gui", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
SOURCES.append(ROOT / "build_installer.py")


def _name(node: ast.AST) -> str:
    """``torch.load`` for ``torch.load(...)``, ``load`` for ``load(...)``."""
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def unsafe_loads(source: str, filename: str = "<source>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        where = f"{filename}:{node.lineno}: {name}"
        if name.endswith("torch.load") and _keyword(node, "weights_only") is not True:
            found.append(f"{where} without weights_only=True")
        elif name.split(".")[-1] in ("loads", "load", "Unpickler") and name.split(".")[0] in ("pickle", "cPickle",
                                                                                           "dill", "joblib"):
            found.append(f"{where}: unpickling runs code")
        elif name in ("np.load", "numpy.load") and _keyword(node, "allow_pickle") not in (None, False):
            found.append(f"{where} with allow_pickle")
    for node in ast.walk(ast.parse(source, filename)):  # `from torch import load` would hide the name
        if isinstance(node, ast.ImportFrom) and node.module in ("torch", "pickle") and \
                any(a.name in ("load", "loads") for a in node.names):
            found.append(f"{filename}:{node.lineno}: imports {node.module}.load under another name")
    return found


def test_the_scan_finds_what_it_looks_for():
    bad = ("import torch, pickle, numpy as np\n"
           "torch.load(p)\n"
           "torch.load(p, weights_only=False)\n"
           "pickle.load(f)\n"
           "np.load(p, allow_pickle=True)\n"
           "from torch import load\n")
    assert len(unsafe_loads(bad)) == 5
    good = "import torch, numpy as np\ntorch.load(p, map_location='cpu', weights_only=True)\nnp.load(p)\n"
    assert unsafe_loads(good) == []


def test_no_loader_in_motet_can_run_code():
    assert len(SOURCES) > 50
    found = [f for path in SOURCES for f in unsafe_loads(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []
