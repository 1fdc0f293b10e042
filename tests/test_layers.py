"""The package's layers, as the README's Layout section draws them: each package imports
only the ones above it (deprecated names forwarded by a module ``__getattr__`` aside)."""

from __future__ import annotations

import ast
from pathlib import Path

FAIRMTL = Path(__file__).resolve().parents[1] / "fairmtl"

#: the README's order; a name may import only names listed before it (or itself)
LAYERS = [
    ("__init__", "exceptions", "_optional", "_suggest", "_metric_facts", "_solver_info", "losses"),
    ("data",),
    ("datasets",),
    ("models",),
    ("objectives",),
    ("solvers",),
    ("neural",),
    ("estimators", "distributed"),  # one layer: fit dispatches to the cluster fit
    ("metrics",),
    ("report",),
    ("_archive", "_fitted_state", "persistence"),
    ("frontier",),
    ("transfer",),
    ("cli",),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """``fairmtl.solvers._cvxpy`` -> ``solvers``; ``fairmtl`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(tree: ast.AST):
    """fairmtl modules imported by ``tree``, except inside a module ``__getattr__``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fairmtl"):
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("fairmtl"):
                    yield node.lineno, alias.name
        yield from _imports(node)


def test_every_package_imports_only_the_layers_above_it():
    upward = []
    for path in sorted(FAIRMTL.rglob("*.py")):
        parts = path.relative_to(FAIRMTL).with_suffix("").parts
        if "_files" in parts:
            continue
        me = parts[0]
        assert me in RANK, f"{path}: add {me!r} to LAYERS and to the README's Layout"
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = _unit(module)
            if target != me and RANK[target] > RANK[me]:
                upward.append(f"{path.relative_to(FAIRMTL.parent)}:{line}: {me} -> {module}")
    assert upward == [], "imports against the layers:\n" + "\n".join(upward)
