"""docs/engine-api.md's imports: each one it shows works, and it shows every name the server
imports from the engine."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "engine-api.md").read_text()


def doc_imports() -> list[str]:
    """Every import statement from `engine` in the doc's Python blocks (one per string)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.S)
    found = []
    for block in blocks:
        found += re.findall(r"^from engine[\w.]* import \(\n.*?^\)", block, re.S | re.M)
        found += re.findall(
            r"^(?:from engine[\w.]* import [^(\n].*|import engine[\w.]*.*)$", block, re.M
        )
    return found


def names(tree: ast.AST) -> set[tuple[str, str]]:
    """(module, name) of every engine import in `tree`, inside functions too."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "engine":
            out |= {(node.module, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {(a.name, "") for a in node.names if a.name.split(".")[0] == "engine"}
    return out


def test_every_import_the_doc_shows_works():
    statements = doc_imports()
    assert len(statements) >= 8
    for statement in statements:
        exec(compile(statement, "docs/engine-api.md", "exec"), {})


def test_the_doc_shows_every_name_the_server_imports_from_the_engine():
    shown = set()
    for statement in doc_imports():
        shown |= names(ast.parse(statement))
    used = set()
    for path in sorted((ROOT / "server").rglob("*.py")):
        for module, name in names(ast.parse(path.read_text())):
            used.add((module, name))
    missing = sorted(f"from {m} import {n}" for m, n in used - shown)
    assert not missing, "docs/engine-api.md does not show: " + "; ".join(missing)
